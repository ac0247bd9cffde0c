/**
 * GPU sharing in helm/tessera (issue 17 part 4), rendered by the real helm over the chart as it is:
 * several stages in one pod (combined.*, services/combined), per-stage GPU resource names (MIG
 * profiles, ci/mig.yaml) and time-slicing (ci/one-gpu-shared.yaml, chart.test.ts). The environment
 * each GPU container gets is read back through the services' own config loaders, so a value the chart
 * renders but a service refuses fails here, not at pod start.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDecoderConfig } from '@tessera/decoder';
import { loadResamplerConfig } from '@tessera/resampler';
import { loadSlicerConfig } from '@tessera/slicer';
import { loadCombinedConfig } from '../../../services/combined/src/config.js';
import { CHART_DIR, helm, parseManifests, type K8sObject } from './helm-render.js';
import { validateManifest } from './manifest-validation.js';

const STAGES = ['slicer', 'resampler', 'decoder'] as const;
const KEDA = ['--api-versions', 'keda.sh/v1alpha1'];

async function render(args: string[]): Promise<K8sObject[]> {
  const r = await helm(['template', 'r', CHART_DIR, '-n', 'tessera', ...args]);
  if (r.code !== 0) throw new Error(`helm template ${args.join(' ')} failed: ${r.stderr}`);
  const objects = parseManifests(r.stdout);
  for (const o of objects) validateManifest(o);
  return objects;
}
const ci = (name: string) => ['-f', join(CHART_DIR, 'ci', name)];
const find = (objs: K8sObject[], kind: string, name: string): any => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind} ${name} not rendered (have: ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')})`);
  return o;
};
const names = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind).map((o) => o.metadata.name).sort();
const container = (objs: K8sObject[], name: string): any => find(objs, 'Deployment', `r-tessera-${name}`).spec.template.spec.containers[0];
/** What the process sees: the shared ConfigMap, then the container's literal env (secrets left out). */
const processEnv = (objs: K8sObject[], c: any): Record<string, string> => ({
  ...find(objs, 'ConfigMap', 'r-tessera-env').data,
  ...Object.fromEntries((c.env ?? []).filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value])),
});
const secretRef = (c: any, name: string) => c.env.find((e: any) => e.name === name)?.valueFrom?.secretKeyRef;

describe('every GPU stage accepts the environment the chart renders for it', () => {
  it('standalone stages with the defaults (intraOpThreads 0 leaves TESSERA_INTRA_OP_THREADS unset: the services refuse 0)', async () => {
    const objs = await render([]);
    const load = { slicer: loadSlicerConfig, resampler: loadResamplerConfig, decoder: loadDecoderConfig };
    for (const s of STAGES) {
      const env = processEnv(objs, container(objs, s));
      expect(env.TESSERA_INTRA_OP_THREADS, s).toBeUndefined();
      expect(load[s](env)).toMatchObject({ serviceName: s, intraOpThreads: 1, executionProvider: 'cuda' });
    }
  });
});

describe('helm template: slicer + resampler + decoder in one pod (ci/one-gpu-combined.yaml)', () => {
  let objs: K8sObject[];
  beforeAll(async () => {
    objs = await render(ci('one-gpu-combined.yaml'));
  });

  it('renders one combined Deployment on one GPU instead of the three stage Deployments, PDBs, policies and autoscalers', () => {
    expect(names(objs, 'Deployment')).toEqual(['combined', 'feedback', 'gateway', 'retrieval'].map((n) => `r-tessera-${n}`));
    expect(names(objs, 'PodDisruptionBudget')).toEqual(['combined', 'feedback', 'gateway', 'retrieval'].map((n) => `r-tessera-${n}`));
    expect(names(objs, 'NetworkPolicy')).toEqual(['combined', 'feedback', 'gateway', 'retrieval'].map((n) => `r-tessera-${n}`));
    expect(names(objs, 'ScaledObject')).toEqual(['r-tessera-combined']);
    const d = find(objs, 'Deployment', 'r-tessera-combined');
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    expect(c.image).toBe('ghcr.io/tessera/combined:0.1.0-cuda');
    expect(c.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key).toBe('nvidia.com/gpu.present');
    expect(c.volumeMounts).toContainEqual({ name: 'model', mountPath: '/models/current', readOnly: true });
    expect(c.volumeMounts).toContainEqual({ name: 'dshm', mountPath: '/dev/shm' });
    expect(d.spec.replicas).toBeUndefined();
    expect(d.spec.strategy.rollingUpdate.maxSurge).toBe(0);
    // One gRPC port per stage, one metrics port for the process.
    expect(c.ports.map((p: any) => `${p.name}:${p.containerPort}`)).toEqual(['grpc-slicer:50052', 'grpc-resampler:50053', 'grpc-decoder:50054', 'metrics:9471']);
    // Probes on the last stage to start (it serves once the others do); budget = 300 + 180 + 600 s.
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) expect(c[probe].grpc.port).toBe(50054);
    expect(c.startupProbe.failureThreshold * c.startupProbe.periodSeconds).toBe(1080);
    // Grace: preStop 5 + the longest stage grace (decoder 55) + 10.
    expect(pod.terminationGracePeriodSeconds).toBe(70);
  });

  it('hands each stage its own port, concurrency, grace, threads, env and NATS login, which services/combined reads back', () => {
    const c = container(objs, 'combined');
    const env = processEnv(objs, c);
    // The image sets OTEL_SERVICE_NAME=combined; the chart does too. Stages must not take it as their queue group.
    expect(env.OTEL_SERVICE_NAME).toBe('combined');
    const cfg = loadCombinedConfig(env);
    expect(cfg.stages).toEqual(['slicer', 'resampler', 'decoder']);
    expect(cfg.metricsPort).toBe(9471);
    expect(cfg.logLevel).toBe('debug');
    expect(cfg.stageConfigs.slicer).toMatchObject({ serviceName: 'slicer', grpcPort: 50052, maxConcurrency: 4, shutdownGrace: 25_000, maxBatch: 16, executionProvider: 'cuda', modelDir: '/models/current' });
    expect(cfg.stageConfigs.resampler).toMatchObject({ serviceName: 'resampler', grpcPort: 50053, maxConcurrency: 8, maxBatch: 32 });
    expect(cfg.stageConfigs.decoder).toMatchObject({ serviceName: 'decoder', grpcPort: 50054, shutdownGrace: 55_000, intraOpThreads: 2, workQueue: true });
    for (const s of STAGES) {
      expect(secretRef(c, `${s.toUpperCase()}__NATS_USER`)).toEqual({ name: 'nats-logins', key: `${s}-user` });
      expect(secretRef(c, `${s.toUpperCase()}__NATS_PASSWORD`)).toEqual({ name: 'nats-logins', key: `${s}-password` });
    }
    expect(secretRef(c, 'NATS_USER')).toBeUndefined();
  });

  it('keeps each stage Service (name, port) pointing at the combined pod; the process metrics are one Service', () => {
    const ports = new Set(container(objs, 'combined').ports.map((p: any) => p.name));
    for (const [s, port] of [['slicer', 50052], ['resampler', 50053], ['decoder', 50054]] as const) {
      const svc = find(objs, 'Service', `r-tessera-${s}`);
      expect(svc.spec.selector['app.kubernetes.io/component']).toBe('combined');
      expect(svc.spec.ports).toEqual([{ name: 'grpc', port, targetPort: `grpc-${s}`, protocol: 'TCP', appProtocol: 'grpc' }]);
      expect(ports.has(svc.spec.ports[0].targetPort)).toBe(true);
    }
    expect(find(objs, 'Service', 'r-tessera-combined').spec.ports).toEqual([{ name: 'metrics', port: 9471, targetPort: 'metrics', protocol: 'TCP' }]);
    const np = find(objs, 'NetworkPolicy', 'r-tessera-combined');
    expect(np.spec.ingress[0].ports.map((p: any) => p.port)).toEqual([50052, 50053, 50054]);
    expect(np.spec.ingress[1].ports[0].port).toBe(9471);
  });

  it('scales on the sum of the stage backlogs, each weighted by the lag one replica of that stage absorbs', () => {
    const so = find(objs, 'ScaledObject', 'r-tessera-combined');
    expect(so.spec.scaleTargetRef.name).toBe('r-tessera-combined');
    expect(so.spec.minReplicaCount).toBe(1);
    expect(so.spec.advanced.scalingModifiers).toEqual({ formula: 'slicer / 8 + resampler / 16 + decoder / 4', target: '1', activationTarget: '0', metricType: 'AverageValue' });
    expect(so.spec.triggers.map((t: any) => [t.name, t.metadata.stream, t.metadata.consumer])).toEqual([
      ['slicer', 'TESSERA_SLICER', 'slicer-workers'],
      ['resampler', 'TESSERA_RESAMPLER', 'resampler-workers'],
      ['decoder', 'TESSERA_DECODER', 'decoder-workers'],
    ]);
    for (const t of so.spec.triggers) expect(t.metadata.natsServerMonitoringEndpoint).toBe('nats.messaging.svc.cluster.local:8222');
  });

  it('a subset: the decoder alone stays standalone, slicer + resampler share a pod; without KEDA an HPA on CPU', async () => {
    const sub = await render(['--set-json', 'combined={"enabled":true,"stages":["slicer","resampler"]}']);
    expect(names(sub, 'Deployment')).toEqual(['combined', 'decoder', 'feedback', 'gateway', 'retrieval'].map((n) => `r-tessera-${n}`));
    const c = container(sub, 'combined');
    expect(loadCombinedConfig(processEnv(sub, c)).stages).toEqual(['slicer', 'resampler']);
    expect(c.startupProbe.grpc.port).toBe(50053);
    expect(c.startupProbe.failureThreshold * 10).toBe(480);
    expect(find(sub, 'Service', 'r-tessera-decoder').spec.selector['app.kubernetes.io/component']).toBe('decoder');
    expect(names(sub, 'HorizontalPodAutoscaler')).toEqual(['r-tessera-combined', 'r-tessera-decoder']);
    expect(names(sub, 'ScaledObject')).toEqual([]);
  });

  it('scale from zero: a combined pod at minReplicas 0 puts its whole start on the gateway deadline', async () => {
    const gwTimeout = (o: K8sObject[]) => processEnv(o, container(o, 'gateway')).TESSERA_GATEWAY_REQUEST_TIMEOUT;
    // Default: the pod stays warm (minReplicas 1), nothing else can reach zero → the plain 120 s.
    expect(gwTimeout(await render([...KEDA, '--set', 'combined.enabled=true']))).toBe('120s');
    expect(gwTimeout(await render([...KEDA, '--set', 'combined.enabled=true', '--set', 'combined.autoscaling.minReplicas=0']))).toBe('1140s');
  });

  it('monitors scrape the combined pod once, not once per stage', async () => {
    const mon = await render([...ci('one-gpu-combined.yaml'), '--set', 'monitoring.serviceMonitor.enabled=true', '--set', 'monitoring.podMonitor.enabled=true']);
    expect(names(mon, 'ServiceMonitor')).toEqual(['combined', 'feedback', 'gateway', 'retrieval'].map((n) => `r-tessera-${n}`));
    expect(names(mon, 'PodMonitor')).toEqual(['combined', 'feedback', 'gateway', 'retrieval'].map((n) => `r-tessera-${n}`));
  });
});

describe('helm template: a MIG profile per stage (ci/mig.yaml)', () => {
  it('limits each stage on its own MIG resource and nothing on nvidia.com/gpu', async () => {
    const objs = await render(ci('mig.yaml'));
    const want = { slicer: 'nvidia.com/mig-2g.20gb', resampler: 'nvidia.com/mig-1g.10gb', decoder: 'nvidia.com/mig-3g.40gb' };
    for (const s of STAGES) {
      const limits = container(objs, s).resources.limits;
      expect(limits[want[s]], s).toBe(1);
      expect(limits['nvidia.com/gpu'], s).toBeUndefined();
    }
    const whole = await render(['--set', 'combined.enabled=true', '--set', 'combined.gpuResourceName=nvidia.com/mig-7g.80gb']);
    expect(container(whole, 'combined').resources.limits).toEqual({ memory: '40Gi', 'nvidia.com/mig-7g.80gb': 1 });
  });
});

describe('values.schema.json: GPU sharing values', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['a stage the combined process cannot run', ['--set-json', 'combined.stages=["slicer","gateway"]'], /\/combined\/stages\/1': value must be one of 'slicer', 'resampler', 'decoder'/],
    ['a stage listed twice', ['--set-json', 'combined.stages=["decoder","decoder"]'], /\/combined\/stages': items at 0 and 1 are equal/],
    ['a GPU resource name that is not <domain>/<name>', ['--set', 'services.decoder.gpuResourceName=mig-3g'], /\/services\/decoder\/gpuResourceName': 'mig-3g' does not match pattern/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const r = await helm(['template', 'r', CHART_DIR, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});

describe('NOTES.txt', () => {
  it('says which stages share the combined pod and on which resource', async () => {
    const r = await helm(['install', 'r', CHART_DIR, '--dry-run=client', '-n', 'tessera', '--set', 'combined.enabled=true']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('GPU sharing: slicer,resampler,decoder run in one process, Deployment r-tessera-combined');
    expect(r.stdout).toContain('(1 x nvidia.com/gpu per pod)');
    expect(r.stdout).toMatch(/NOTE: combined autoscales with an HPA on CPU/);
  });
});
