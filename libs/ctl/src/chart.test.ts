import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHART_DIR, helm, type K8sObject, parseManifests, REPO_ROOT } from './helm-render.js';
import { validateManifest } from './manifest-validation.js';
import { BUS_USERS, deployNatsAuthConf, passwordEnv } from '@tessera/runtime';
import { natsServerBinary } from '@tessera/testing';

// helm/tessera rendered by the real helm (v4.1.4 from scripts/helm.sh) over the ci/ scenarios; every
// object is checked against the Kubernetes and KEDA OpenAPI schemas offline (kubernetes-models).
// The chart is rendered as it is in the repository: no stub dependency, no copy (NATS is a
// prerequisite outside the chart, so there is nothing to stub).

const NS = 'tessera';
const EXTERNAL = ['--set', 'externalNats.url=nats://nats:4222', '--set', 'externalNats.monitoringEndpoint=nats:8222'];
const STAGES = ['slicer', 'resampler', 'decoder'] as const;

const chart = { dir: CHART_DIR };

async function render(args: string[]): Promise<K8sObject[]> {
  const r = await helm(['template', 'r', chart.dir, '-n', NS, ...args]);
  if (r.code !== 0) throw new Error(`helm template ${args.join(' ')} failed: ${r.stderr}`);
  const objects = parseManifests(r.stdout);
  for (const o of objects) validateManifest(o);
  return objects;
}

const find = (objs: K8sObject[], kind: string, name: string): any => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind} ${name} not rendered (have: ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')})`);
  return o;
};
const ofKind = (objs: K8sObject[], kind: string): any[] => objs.filter((o) => o.kind === kind);
const env = (container: any): Record<string, string> => Object.fromEntries((container.env ?? []).filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
const ciFile = (name: string) => ['-f', join(chart.dir, 'ci', name)];

describe('values.yaml', () => {
  it('documents every key with a comment line right above it', () => {
    const lines = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8').split('\n');
    const undocumented: string[] = [];
    lines.forEach((line, i) => {
      if (!/^\s*(- )?[A-Za-z][\w.-]*:/.test(line)) return;
      let j = i - 1;
      while (j >= 0 && lines[j]!.trim() === '') j--;
      if (!lines[j]?.trim().startsWith('#')) undocumented.push(`${i + 1}: ${line.trim()}`);
    });
    expect(undocumented).toEqual([]);
  });
});

describe('the README commands, exactly as written, with the defaults', () => {
  it('`helm template rel helm/tessera` and `helm install tessera helm/tessera` (client dry run) render from the repository root', async () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8') + readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
    expect(readme).toContain('helm install tessera helm/tessera');
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
        execFile('bash', [join(REPO_ROOT, 'scripts/helm.sh'), ...args], { cwd: REPO_ROOT, maxBuffer: 32 << 20 }, (err, stdout, stderr) => done({ code: err ? 1 : 0, stdout, stderr })),
      );
    const template = await run(['template', 'rel', 'helm/tessera']);
    expect(template.code, template.stderr).toBe(0);
    const objs = parseManifests(template.stdout);
    for (const o of objs) validateManifest(o);
    expect(objs.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name).sort()).toEqual(['decoder', 'feedback', 'gateway', 'resampler', 'retrieval', 'slicer'].map((n) => `rel-tessera-${n}`));
    const install = await run(['install', 'tessera', 'helm/tessera', '--dry-run=client']);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toContain('NATS:           nats://nats:4222');
  });
});

describe('helm lint', () => {
  it('passes --strict with every ci/ scenario', async () => {
    const files = readdirSync(join(CHART_DIR, 'ci')).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const r = await helm(['lint', '--strict', chart.dir, ...ciFile(f)]);
      expect(r.code, `${f}: ${r.stdout}${r.stderr}`).toBe(0);
    }
  });
});

describe('helm template: GPU pool + KEDA (ci/gpu-keda.yaml)', () => {
  let objs: K8sObject[];
  beforeAll(async () => {
    objs = await render(ciFile('gpu-keda.yaml'));
  });

  it('renders every service with its Service, PDB and NetworkPolicy, plus SA, Role, Secret and the test pod', () => {
    for (const s of ['gateway', ...STAGES, 'retrieval', 'feedback']) {
      find(objs, 'Deployment', `r-tessera-${s}`);
      find(objs, 'Service', `r-tessera-${s}`);
      expect(find(objs, 'PodDisruptionBudget', `r-tessera-${s}`).spec.maxUnavailable).toBe(1);
      expect(find(objs, 'NetworkPolicy', `r-tessera-${s}`).spec.policyTypes).toEqual(['Ingress', 'Egress']);
    }
    expect(find(objs, 'ServiceAccount', 'r-tessera').automountServiceAccountToken).toBe(false);
    const role = find(objs, 'Role', 'r-tessera-operator');
    expect(role.rules.some((r: any) => r.resources.includes('scaledobjects') && r.verbs.includes('patch'))).toBe(true);
    // ctl status reads the NATS backlog through the API server proxy (no port-forward).
    expect(role.rules).toContainEqual({ apiGroups: [''], resources: ['services/proxy'], verbs: ['get'] });
    expect(find(objs, 'Secret', 'r-tessera-api-keys').data['keys.json']).toBeTruthy();
    const test = find(objs, 'Pod', 'r-tessera-test-gateway-health');
    expect(test.metadata.annotations['helm.sh/hook']).toBe('test');
    expect(env(test.spec.containers[0]).TARGET).toBe('r-tessera-gateway:50051');
  });

  it('puts GPU stages on the GPU pool with CUDA, /dev/shm, startup probes sized for loading and a shutdown budget', () => {
    for (const s of STAGES) {
      const d = find(objs, 'Deployment', `r-tessera-${s}`);
      const pod = d.spec.template.spec;
      const c = pod.containers[0];
      const term = pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0];
      expect(term).toEqual({ key: 'nvidia.com/gpu.present', operator: 'In', values: ['true'] });
      expect(pod.tolerations).toContainEqual({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
      expect(c.resources.limits['nvidia.com/gpu']).toBe(1);
      expect(env(c).TESSERA_EXECUTION_PROVIDER).toBe('cuda');
      expect(c.image).toMatch(new RegExp(`/${s}:0\\.1\\.0-cuda$`));
      expect(pod.volumes.find((v: any) => v.name === 'dshm').emptyDir.medium).toBe('Memory');
      expect(c.volumeMounts).toContainEqual({ name: 'dshm', mountPath: '/dev/shm' });
      expect(env(c).TESSERA_MODEL_DIR).toBe('/models/current');
      expect(d.spec.template.metadata.annotations['tessera.dev/model-revision']).toBe('minicpm-v-2_6');
      // Startup budget covers weight loading (values: decoder 600 s, slicer 300 s, resampler 180 s).
      const budget = c.startupProbe.failureThreshold * c.startupProbe.periodSeconds;
      expect(budget).toBeGreaterThanOrEqual({ slicer: 300, resampler: 180, decoder: 600 }[s]);
      const grace = Number(env(c).TESSERA_SHUTDOWN_GRACE.replace('s', ''));
      expect(pod.terminationGracePeriodSeconds).toBe(c.lifecycle.preStop.sleep.seconds + grace + 10);
      // The autoscaler owns replicas: helm must not reset them on upgrade.
      expect(d.spec.replicas).toBeUndefined();
      expect(d.spec.strategy.rollingUpdate.maxSurge).toBe(0);
    }
    const gw = find(objs, 'Deployment', 'r-tessera-gateway').spec.template.spec;
    expect(gw.affinity).toBeUndefined();
    expect(JSON.stringify(gw)).not.toContain('nvidia.com/gpu');
  });

  it('probes every service over native gRPC health on its gRPC port and runs it non-root', () => {
    for (const d of ofKind(objs, 'Deployment')) {
      const pod = d.spec.template.spec;
      const c = pod.containers[0];
      const grpcPort = c.ports.find((p: any) => p.name === 'grpc').containerPort;
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) expect(c[probe].grpc.port, `${d.metadata.name} ${probe}`).toBe(grpcPort);
      expect(env(c).TESSERA_GRPC_PORT).toBe(String(grpcPort));
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(pod.automountServiceAccountToken).toBe(false);
    }
  });

  it('scales each GPU stage with a KEDA nats-jetstream trigger on its own durable consumer', () => {
    expect(ofKind(objs, 'HorizontalPodAutoscaler')).toHaveLength(0);
    const sos = ofKind(objs, 'ScaledObject');
    expect(sos.map((s) => s.metadata.name).sort()).toEqual(['r-tessera-decoder', 'r-tessera-resampler', 'r-tessera-slicer']);
    for (const s of STAGES) {
      const so = find(objs, 'ScaledObject', `r-tessera-${s}`);
      expect(so.spec.scaleTargetRef.name).toBe(`r-tessera-${s}`);
      expect(so.spec.triggers).toEqual([
        {
          type: 'nats-jetstream',
          metadata: expect.objectContaining({ natsServerMonitoringEndpoint: 'nats.messaging.svc.cluster.local:8222', account: '$G', stream: `TESSERA_${s.toUpperCase()}`, consumer: `${s}-workers` }),
        },
      ]);
      expect(typeof so.spec.triggers[0].metadata.lagThreshold).toBe('string');
      expect(so.spec.triggers[0].metadata.activationLagThreshold).toMatch(/^\d+$/);
    }
    expect(find(objs, 'ScaledObject', 'r-tessera-slicer').spec.minReplicaCount).toBe(0);
    expect(find(objs, 'ScaledObject', 'r-tessera-decoder').spec.minReplicaCount).toBe(1);
  });

  it('points every service at the external NATS and wires the API keys file into the gateway', () => {
    const cm = find(objs, 'ConfigMap', 'r-tessera-env');
    expect(cm.data.NATS_URL).toBe('nats://nats.messaging.svc.cluster.local:4222');
    expect(cm.data.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    const gw = find(objs, 'Deployment', 'r-tessera-gateway').spec.template.spec;
    expect(env(gw.containers[0]).TESSERA_GATEWAY_API_KEYS_FILE).toBe('/etc/tessera/api-keys/keys.json');
    expect(gw.volumes.find((v: any) => v.name === 'api-keys').secret.secretName).toBe('r-tessera-api-keys');
  });
});

describe('helm template: one shared GPU, model copied per pod (ci/one-gpu-shared.yaml)', () => {
  it('requests the time-sliced resource, sets runtime/priority classes, spreads replicas, copies the model in an init container', async () => {
    const objs = await render(ciFile('one-gpu-shared.yaml'));
    for (const s of STAGES) {
      const pod = find(objs, 'Deployment', `r-tessera-${s}`).spec.template.spec;
      expect(pod.containers[0].resources.limits['nvidia.com/gpu.shared']).toBe(1);
      expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBeUndefined();
      expect(pod.runtimeClassName).toBe('nvidia');
      expect(pod.priorityClassName).toBe('tessera-serving');
      expect(pod.topologySpreadConstraints.map((c: any) => c.topologyKey)).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
      const copy = pod.initContainers[0];
      expect(copy.name).toBe('model-copy');
      expect(env(copy).MODEL_SOURCE).toBe('s3:models/minicpm-v-2_6');
      expect(copy.envFrom[0].secretRef.name).toBe('model-store-credentials');
      expect(pod.volumes.find((v: any) => v.name === 'model').emptyDir.sizeLimit).toBe('24Gi');
    }
    const gw = find(objs, 'Deployment', 'r-tessera-gateway').spec.template.spec;
    expect(gw.runtimeClassName).toBeUndefined();
    expect(gw.initContainers).toBeUndefined();
    expect(ofKind(objs, 'PersistentVolumeClaim').map((p) => p.metadata.name)).not.toContain('r-tessera-model');
    // decoder kept warm: the cold path is slicer (300 s) + resampler (180 s) → deadline 540 s.
    expect(env(gw.containers[0]).TESSERA_GATEWAY_REQUEST_TIMEOUT).toBe('540s');
  });

  it("the gateway gets the resampler's TESSERA_MAX_SLICES_PER_REQUEST (it checks its video frames per call against it at start)", async () => {
    const gwEnv = async (args: string[]) => env(find(await render(args), 'Deployment', 'r-tessera-gateway').spec.template.spec.containers[0]);
    expect((await gwEnv([])).TESSERA_MAX_SLICES_PER_REQUEST).toBeUndefined(); // both default to 37
    expect((await gwEnv(['--set', 'services.resampler.env.TESSERA_MAX_SLICES_PER_REQUEST=10'])).TESSERA_MAX_SLICES_PER_REQUEST).toBe('10');
  });

  it("the gateway gets the decoder's TESSERA_DECODER_MAX_CONTEXT and TESSERA_DECODER_ENABLE_THINKING (POST /tokenize answers with the decoder's context and chat prompt)", async () => {
    const gwEnv = async (args: string[]) => env(find(await render(args), 'Deployment', 'r-tessera-gateway').spec.template.spec.containers[0]);
    const none = await gwEnv([]);
    expect([none.TESSERA_DECODER_MAX_CONTEXT, none.TESSERA_DECODER_ENABLE_THINKING]).toEqual([undefined, undefined]); // same defaults on both
    const set = await gwEnv(['--set', 'services.decoder.env.TESSERA_DECODER_MAX_CONTEXT=4096', '--set', 'services.decoder.env.TESSERA_DECODER_ENABLE_THINKING=true']);
    expect([set.TESSERA_DECODER_MAX_CONTEXT, set.TESSERA_DECODER_ENABLE_THINKING]).toEqual(['4096', 'true']);
  });

  it('scale from zero: the gateway deadline covers every zero-min stage, and stays at 120 s with HPAs', async () => {
    const keda = await render(['--api-versions', 'keda.sh/v1alpha1']);
    expect(env(find(keda, 'Deployment', 'r-tessera-gateway').spec.template.spec.containers[0]).TESSERA_GATEWAY_REQUEST_TIMEOUT).toBe('1140s');
    const hpa = await render([]);
    expect(env(find(hpa, 'Deployment', 'r-tessera-gateway').spec.template.spec.containers[0]).TESSERA_GATEWAY_REQUEST_TIMEOUT).toBe('120s');
  });
});

describe('helm template: autoscaler choice', () => {
  const EXT = EXTERNAL;
  it('mode auto picks KEDA when the cluster serves keda.sh/v1alpha1 and an HPA (min >= 1) when it does not', async () => {
    const withKeda = await render([...EXT, '--api-versions', 'keda.sh/v1alpha1']);
    expect(ofKind(withKeda, 'ScaledObject')).toHaveLength(3);
    expect(ofKind(withKeda, 'HorizontalPodAutoscaler')).toHaveLength(0);
    const without = await render(EXT);
    expect(ofKind(without, 'ScaledObject')).toHaveLength(0);
    const hpas = ofKind(without, 'HorizontalPodAutoscaler');
    expect(hpas.map((h) => h.metadata.name).sort()).toEqual(['r-tessera-decoder', 'r-tessera-resampler', 'r-tessera-slicer']);
    for (const h of hpas) expect(h.spec.minReplicas).toBe(1);
  });

  it('default NATS: the prerequisite release "nats" in the same namespace', async () => {
    const objs = await render(['--api-versions', 'keda.sh/v1alpha1']);
    expect(find(objs, 'ConfigMap', 'r-tessera-env').data.NATS_URL).toBe('nats://nats:4222');
    expect(find(objs, 'ScaledObject', 'r-tessera-decoder').spec.triggers[0].metadata.natsServerMonitoringEndpoint).toBe('nats:8222');
  });
});

describe('helm template: CPU only with HPA fallback (ci/cpu-hpa.yaml)', () => {
  it('drops every GPU setting and uses the CPU images and HPAs', async () => {
    const objs = await render(ciFile('cpu-hpa.yaml'));
    for (const s of STAGES) {
      const d = find(objs, 'Deployment', `r-tessera-${s}`);
      const pod = d.spec.template.spec;
      expect(JSON.stringify(pod)).not.toContain('nvidia.com/gpu');
      expect(pod.volumes.some((v: any) => v.name === 'dshm')).toBe(false);
      expect(env(pod.containers[0]).TESSERA_EXECUTION_PROVIDER).toBe('cpu');
      expect(pod.containers[0].image).toMatch(new RegExp(`/${s}:0\\.1\\.0$`));
      expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    }
    expect(env(find(objs, 'Deployment', 'r-tessera-slicer').spec.template.spec.containers[0]).TESSERA_INTRA_OP_THREADS).toBe('2');
    const hpas = ofKind(objs, 'HorizontalPodAutoscaler').map((h) => h.metadata.name).sort();
    expect(hpas).toEqual(['r-tessera-decoder', 'r-tessera-gateway', 'r-tessera-resampler', 'r-tessera-slicer']);
    expect(find(objs, 'HorizontalPodAutoscaler', 'r-tessera-gateway').spec.metrics[0].resource.target.averageUtilization).toBe(60);
    const retrieval = find(objs, 'Deployment', 'r-tessera-retrieval');
    expect(retrieval.spec.replicas).toBe(2);
    expect(retrieval.spec.template.spec.volumes.find((v: any) => v.name === 'data').emptyDir).toEqual({});
    expect(objs.some((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === 'r-tessera-retrieval-data')).toBe(false);
  });
});

describe('helm template: OCI model image, inline keys, OTLP, stream Job (ci/model-image-full.yaml)', () => {
  let objs: K8sObject[];
  beforeAll(async () => {
    objs = await render(ciFile('model-image-full.yaml'));
  });

  it('mounts the model from an image volume and labels the revision', () => {
    const d = find(objs, 'Deployment', 'r-tessera-decoder');
    const vol = d.spec.template.spec.volumes.find((v: any) => v.name === 'model');
    expect(vol.image).toEqual({ reference: 'ghcr.io/tessera/models/minicpm-v-2_6:int8-20261101', pullPolicy: 'IfNotPresent' });
    expect(vol.persistentVolumeClaim).toBeUndefined();
    expect(d.spec.template.metadata.annotations['tessera.dev/model-revision']).toBe('minicpm-v-2_6-int8-20261101');
    expect(d.spec.template.spec.containers[0].resources.limits['nvidia.com/gpu']).toBe(2);
    expect(env(d.spec.template.spec.containers[0]).TESSERA_DECODER_MAX_BATCH).toBe('16');
    expect(objs.some((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === 'r-tessera-model')).toBe(false);
    expect(find(objs, 'Deployment', 'r-tessera-slicer').spec.replicas).toBe(2);
    expect(objs.some((o) => o.metadata.name === 'r-tessera-feedback')).toBe(false);
    expect(ofKind(objs, 'ScaledObject').length + ofKind(objs, 'HorizontalPodAutoscaler').length).toBe(0);
  });

  it('renders the API keys file, OTLP settings, operator binding and network rules', () => {
    const keys = JSON.parse(Buffer.from(find(objs, 'Secret', 'r-tessera-api-keys').data['keys.json'], 'base64').toString());
    expect(keys.keys[0]).toEqual({ id: 'acme-prod', tenant: 'acme', sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' });
    expect(keys.tenants.acme.requestsPerMinute).toBe(120);
    const cm = find(objs, 'ConfigMap', 'r-tessera-env');
    expect(cm.data).toMatchObject({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318', TESSERA_TRACE_SAMPLE_RATIO: '0.1' });
    const attrs = env(find(objs, 'Deployment', 'r-tessera-gateway').spec.template.spec.containers[0]).OTEL_RESOURCE_ATTRIBUTES;
    expect(attrs).toContain('deployment.environment=staging');
    expect(find(objs, 'RoleBinding', 'r-tessera-operator').subjects[0].name).toBe('tessera-operators');
    const np = find(objs, 'NetworkPolicy', 'r-tessera-gateway');
    expect(np.spec.ingress[0].from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name']).toBe('ingress-nginx');
    expect(np.spec.egress.some((e: any) => e.ports?.[0]?.port === 4318)).toBe(true);
    expect(np.spec.egress.some((e: any) => e.to?.[0]?.ipBlock?.cidr === '10.20.0.0/16')).toBe(true);
  });

  it('ships deploy/nats/ stream and consumer definitions to the stream-creation hook Job unchanged', () => {
    const cm = find(objs, 'ConfigMap', 'r-tessera-jetstream');
    const job = find(objs, 'Job', 'r-tessera-jetstream');
    expect(job.metadata.annotations['helm.sh/hook']).toBe('post-install,post-upgrade');
    const deployDir = join(REPO_ROOT, 'deploy/nats');
    const files = readdirSync(deployDir).filter((f) => f.endsWith('.json')).sort();
    expect(Object.keys(cm.data).sort()).toEqual(files);
    for (const f of files) expect(cm.data[f], f).toBe(readFileSync(join(deployDir, f), 'utf8'));
  });
});

describe('values.schema.json rejects invalid values with a clear message', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['GPUs per pod below 1', ['--set', 'services.decoder.gpus=0'], /\/services\/decoder\/gpus': minimum: got 0, want 1/],
    ['unknown execution provider', ['--set', 'executionProvider=rocm'], /\/executionProvider': value must be one of 'cpu', 'cuda'/],
    ['misspelt top-level key', ['--set', 'executionProvidr=cuda'], /additional properties 'executionProvidr' not allowed/],
    ['misspelt service key', ['--set', 'services.decoder.gpu=1'], /\/services\/decoder': additional properties 'gpu' not allowed/],
    ['string where a number belongs', ['--set-string', 'services.slicer.autoscaling.lagThreshold=lots'], /\/services\/slicer\/autoscaling\/lagThreshold': got string, want integer/],
    ['unknown autoscaling mode', ['--set', 'services.slicer.autoscaling.mode=fast'], /value must be one of 'auto', 'keda', 'hpa'/],
    ['two writers on a ReadWriteOnce store', ['--set', 'services.retrieval.replicas=3'], /\/services\/retrieval\/replicas': maximum: got 3, want 1/],
    ['NATS without a URL', ['--set', 'externalNats.url='], /\/externalNats\/url': '' does not match pattern/],
    ['the removed bundled-NATS switch', ['--set', 'nats.enabled=true'], /additional properties 'nats' not allowed/],
    ['image model without a reference', [...EXTERNAL, '--set', 'model.source=image'], /\/model\/image\/reference': minLength: got 0, want 1/],
    ['API key that is not a SHA-256', [...EXTERNAL, '--set', 'apiKeys.keysFile.keys[0].id=a', '--set', 'apiKeys.keysFile.keys[0].tenant=t', '--set', 'apiKeys.keysFile.keys[0].sha256=secret'], /sha256': '.*does not match pattern/],
    ['gRPC port out of range', [...EXTERNAL, '--set', 'services.gateway.grpcPort=70000'], /\/services\/gateway\/grpcPort': maximum: got 70,?000, want 65,?535/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const r = await helm(['template', 'r', chart.dir, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("values don't meet the specifications of the schema");
    expect(r.stderr).toMatch(message);
  });
});

describe('NOTES.txt', () => {
  it('tells how to reach the gateway and warns when a GPU stage falls back to an HPA', async () => {
    const notes = async (extra: string[]) => {
      const r = await helm(['install', 'r', chart.dir, '--dry-run=client', '-n', NS, ...EXTERNAL, ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.slice(r.stdout.indexOf('NOTES:'));
    };
    const withoutKeda = await notes([]);
    expect(withoutKeda).toContain(`kubectl -n ${NS} port-forward svc/r-tessera-gateway 8080`);
    expect(withoutKeda).toContain(`helm test r -n ${NS}`);
    expect(withoutKeda.match(/NOTE: (\w+) autoscales with an HPA on CPU/g)).toHaveLength(3);
    const keda = STAGES.flatMap((st) => ['--set', `services.${st}.autoscaling.mode=keda`]);
    expect(await notes(keda)).not.toContain('autoscales with an HPA');
  });
});

describe('offline manifest validation', () => {
  it('rejects a rendered object that breaks its Kubernetes or KEDA schema (so the checks above can fail)', async () => {
    const objs = await render(ciFile('gpu-keda.yaml'));
    const d = structuredClone(find(objs, 'Deployment', 'r-tessera-gateway'));
    d.spec.replicas = '2';
    d.spec.template.spec.containers[0].ports[0].containerPort = 'grpc';
    expect(() => validateManifest(d)).toThrow(/Deployment "r-tessera-gateway".*spec\/replicas must be integer.*containerPort must be integer/);
    const so = structuredClone(find(objs, 'ScaledObject', 'r-tessera-decoder'));
    so.spec.triggers[0].metadata.lagThreshold = 4;
    expect(() => validateManifest(so)).toThrow(/lagThreshold must be string/);
    expect(() => validateManifest({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toThrow(/no schema/);
  });
});

describe('helm template: Prometheus Operator monitors and the Grafana dashboard (ci/monitoring.yaml)', () => {
  let objs: K8sObject[];
  beforeAll(async () => {
    objs = await render(ciFile('monitoring.yaml'));
  });

  it('one ServiceMonitor and one PodMonitor per service, selecting that service by its labels, on the metrics port', () => {
    const services = ['decoder', 'feedback', 'gateway', 'resampler', 'retrieval', 'slicer'];
    expect(ofKind(objs, 'ServiceMonitor').map((o) => o.metadata.name).sort()).toEqual(services.map((n) => `r-tessera-${n}`));
    expect(ofKind(objs, 'PodMonitor').length).toBe(services.length);
    const sm = find(objs, 'ServiceMonitor', 'r-tessera-gateway');
    expect(sm.metadata.labels.release).toBe('kube-prometheus-stack');
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics', interval: '15s' });
    const svc = find(objs, 'Service', 'r-tessera-gateway');
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(svc.metadata.labels[k]).toBe(v);
    expect(svc.spec.ports.some((p: any) => p.name === 'metrics')).toBe(true);
  });

  it('ships the dashboard with panels on the gateway vLLM series, OTel HTTP metrics and tenant counters', () => {
    const cm = find(objs, 'ConfigMap', 'r-tessera-grafana-dashboard');
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    const dash = JSON.parse(cm.data['tessera.json']);
    const exprs = dash.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr)).join('\n');
    for (const m of ['vllm:time_to_first_token_seconds_bucket', 'vllm:e2e_request_latency_seconds_bucket', 'vllm:inter_token_latency_seconds_bucket', 'vllm:request_success_total', 'http_server_request_duration_seconds', 'vllm:kv_cache_usage_perc', 'tessera_tenant_prompt_tokens_total', 'tessera_decoder_time_to_first_token_seconds_bucket']) expect(exprs).toContain(m);
    expect(new Set(dash.panels.map((p: any) => p.id)).size).toBe(dash.panels.length);
  });

  it('renders none of them by default', async () => {
    const defaults = await render(EXTERNAL);
    expect(defaults.filter((o) => ['ServiceMonitor', 'PodMonitor'].includes(o.kind) || o.metadata.name.endsWith('grafana-dashboard'))).toEqual([]);
  });
});

describe('helm template: authenticated bus and internal ports', () => {
  let objs: K8sObject[];
  beforeAll(async () => {
    objs = await render([...EXTERNAL, '--set', 'externalNats.authConfigMap=true', '--set', 'externalNats.credentialsSecret=nats-logins', '--set', 'jetstream.createStreams=true', '--set', 'jetstream.replicas=3']);
  });

  it('ships deploy/nats/auth.conf = the permissions generator output, in the chart and the ConfigMap, and nats-server accepts it', async () => {
    const conf = deployNatsAuthConf();
    expect(readFileSync(join(REPO_ROOT, 'deploy/nats/auth.conf'), 'utf8'), 'run: node --import tsx scripts/gen-nats-auth.ts').toBe(conf);
    expect(readFileSync(join(CHART_DIR, 'files/nats/auth.conf'), 'utf8')).toBe(conf);
    expect(find(objs, 'ConfigMap', 'r-tessera-nats-auth').data['auth.conf']).toBe(conf);
    const passwords = Object.fromEntries(BUS_USERS.map((u) => [passwordEnv(u), 'x']));
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(natsServerBinary(), ['-t', '-c', join(REPO_ROOT, 'deploy/nats/auth.conf')], { env: { ...process.env, ...passwords } }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr })),
    );
    expect(r.code, r.out).toBe(0);
  });

  it('gives every service its own NATS login and the service credential; the stream Job logs in as operator and applies the replicas', () => {
    for (const s of ['gateway', ...STAGES, 'retrieval', 'feedback']) {
      const c = find(objs, 'Deployment', `r-tessera-${s}`).spec.template.spec.containers[0];
      const ref = (name: string) => c.env.find((e: any) => e.name === name)?.valueFrom?.secretKeyRef;
      expect(ref('NATS_USER')).toEqual({ name: 'nats-logins', key: `${s}-user` });
      expect(ref('TESSERA_SERVICE_TOKEN')).toEqual({ name: 'r-tessera-service-token', key: 'token' });
    }
    expect(Buffer.from(find(objs, 'Secret', 'r-tessera-service-token').data.token, 'base64').toString()).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(find(objs, 'ConfigMap', 'r-tessera-env').data.TESSERA_JETSTREAM_REPLICAS).toBe('3');
    const job = find(objs, 'Job', 'r-tessera-jetstream').spec.template.spec.containers[0];
    expect(job.env.find((e: any) => e.name === 'NATS_USER').valueFrom.secretKeyRef).toEqual({ name: 'nats-logins', key: 'operator-user' });
    expect(env(job).REPLICAS).toBe('3');
  });
});
