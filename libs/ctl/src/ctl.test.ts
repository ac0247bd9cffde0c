import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@tessera/testing';
import { withNats } from '@tessera/testing/vitest';
import { load } from 'js-yaml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clusterFromRender, FakeKubeApi, gpuPoolNodes } from './test/fake-kube-api.js';
import { addDeployStreams, ctlWith } from './test/ctl-run.js';
import { CHART_DIR, helm, type K8sObject, parseManifests } from './helm-render.js';

// `tessera ctl` against a fake Kubernetes API server (no kube-apiserver can run here) seeded with the
// chart's own rendered objects, and a real nats-server whose streams come from deploy/nats/.

const NS = 'tessera';
let api: FakeKubeApi;
const bus = withNats();
let dir: string;
let kubeconfig: string;
let renderedKeda: K8sObject[];
let renderedHpa: K8sObject[];

async function render(valuesFile: string): Promise<K8sObject[]> {
  const r = await helm(['template', 'r', CHART_DIR, '-n', NS, '-f', join(CHART_DIR, 'ci', valuesFile)]);
  if (r.code !== 0) throw new Error(r.stderr);
  return parseManifests(r.stdout);
}

/** Fresh cluster state per test: KEDA scenario unless told otherwise. */
function seed(rendered: K8sObject[]): void {
  (api as unknown as { store: Map<string, K8sObject> }).store.clear();
  api.forbidden = [];
  api.hang = [];
  api.serviceProxies.clear();
  api.kedaInstalled = true;
  api.requests.length = 0;
  api.put(...clusterFromRender(rendered, NS, (name) => (name.endsWith('decoder') ? 2 : 1)), ...gpuPoolNodes());
  api.logs.set('r-tessera-decoder-7d9f8c6b5-ax0', 'loading model minicpm-v-2_6\nsession ready (cuda)\nserving on :50054\n');
  api.logs.set('r-tessera-decoder-7d9f8c6b5-bx1', 'loading model minicpm-v-2_6\nserving on :50054\n');
}

const ctl = (...argv: string[]) => ctlWith(kubeconfig, argv);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-ctl-'));
  [renderedKeda, renderedHpa] = await Promise.all([render('gpu-keda.yaml'), render('cpu-hpa.yaml')]);
  api = new FakeKubeApi();
  await api.start();
  kubeconfig = join(dir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, NS, `http://127.0.0.1:${await freePort()}`);

  // Streams and consumers exactly as deploy/nats/ defines them (what `nats stream add --config` sends).
  await addDeployStreams(bus.nc, ['slicer', 'resampler', 'decoder', 'feedback'], ['slicer', 'resampler', 'decoder']);
  const js = bus.nc.jetstream();
  for (let i = 0; i < 7; i++) await js.publish(`tessera.work.decoder.generate`, new TextEncoder().encode(`job-${i}`), { msgID: `d-${i}` });
  for (let i = 0; i < 3; i++) await js.publish(`tessera.work.slicer.encode`, new TextEncoder().encode(`img-${i}`), { msgID: `s-${i}` });
  // Two decoder jobs delivered and not acked: in flight on a worker.
  const consumer = await js.consumers.get('TESSERA_DECODER', 'decoder-workers');
  const batch = await consumer.fetch({ max_messages: 2, expires: 2_000 });
  let taken = 0;
  for await (const _m of batch) if (++taken === 2) break;
}, 60_000);

afterAll(async () => {
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => seed(renderedKeda));

describe('deploy/nats definitions', () => {
  it('are accepted by nats-server as work-queue streams with durable pull consumers', async () => {
    const jsm = await bus.nc.jetstreamManager();
    const info = await jsm.streams.info('TESSERA_DECODER');
    expect(info.config.retention).toBe('workqueue');
    expect(info.config.subjects).toEqual(['tessera.work.decoder.>']);
    const c = await jsm.consumers.info('TESSERA_DECODER', 'decoder-workers');
    expect(c.config).toMatchObject({ durable_name: 'decoder-workers', ack_policy: 'explicit', max_deliver: 5 });
  });
});

describe('tessera ctl status', () => {
  it('reports per stage replicas, autoscaler, JetStream backlog and model revision, and the GPU pool (json)', async () => {
    const r = await ctl('status', '-o', 'json', '--nats-monitor', `http://127.0.0.1:${bus.server.monitorPort}`);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s).toMatchObject({ context: 'fake', namespace: NS, release: 'r', warnings: [] });
    const byStage = Object.fromEntries(s.stages.map((x: any) => [x.stage, x]));
    expect(Object.keys(byStage)).toEqual(['gateway', 'slicer', 'resampler', 'decoder', 'retrieval', 'feedback']);
    expect(byStage.decoder).toMatchObject({ deployment: 'r-tessera-decoder', desired: 2, ready: 2, modelRevision: 'minicpm-v-2_6', podRevisions: { 'minicpm-v-2_6': 2 } });
    expect(byStage.decoder.autoscaler).toEqual({ kind: 'keda', name: 'r-tessera-decoder', min: 1, max: 6 });
    expect(byStage.decoder.backlog).toMatchObject({ stream: 'TESSERA_DECODER', consumer: 'decoder-workers', pending: 5, ackPending: 2, lag: 7 });
    expect(byStage.slicer.backlog).toMatchObject({ pending: 3, ackPending: 0, lag: 3 });
    expect(byStage.resampler.backlog.lag).toBe(0);
    expect(byStage.gateway).toMatchObject({ desired: 2, autoscaler: { kind: 'none' }, backlog: null, modelRevision: null });
    // The cordoned node's GPUs are not schedulable capacity.
    expect(s.gpuTotals).toEqual({ nodes: 2, allocatable: 4 });
    // slicer 1 + resampler 1 + decoder 2 pods, one GPU each (the chart's nvidia.com/gpu limit).
    expect(s.gpusRequestedByRelease).toBe(4);
    expect(s.gpuNodes.map((n: any) => [n.name, n.allocatableGpus, n.schedulable])).toEqual([
      ['gpu-a100-0', 4, true],
      ['gpu-a100-1', 2, false],
    ]);
    // What went over the wire: the chart's labels as selectors, the bearer token from the kubeconfig.
    const list = api.requests.find((q) => q.path === `/apis/apps/v1/namespaces/${NS}/deployments`)!;
    expect(list.query.get('labelSelector')).toBe('app.kubernetes.io/part-of=tessera');
    expect(list.authorization).toBe('Bearer test-token');
    expect(api.requests.find((q) => q.path === '/api/v1/nodes')!.query.get('labelSelector')).toBe('nvidia.com/gpu.present=true');
  });

  it('prints a table, and warns (exit 0) when the backlog or the GPU nodes cannot be read', async () => {
    api.forbidden = [{ method: 'GET', resource: 'nodes' }];
    const r = await ctl('status', '--context', 'fake', '-n', NS);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('context fake   namespace tessera   release r');
    expect(lines[2]).toMatch(/^STAGE\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AUTOSCALER\s+BACKLOG\s+MODEL-REVISION$/);
    expect(r.out).toMatch(/\ndecoder\s+2\/2\s+2\s+2\s+keda 1-6\s+-\s+minicpm-v-2_6\n/);
    expect(r.out).toMatch(/\ngateway\s+2\/2\s+2\s+2\s+-\s+-\s+-\n/);
    expect(r.out).toMatch(/warning: backlog unknown: read JetStream backlog from service messaging\/nats:8222 through the API server proxy: .*no endpoints available.*--nats-service/);
    expect(r.out).not.toContain('GPU pool:');
    expect(r.out).toMatch(/warning: GPU nodes unknown: list GPU nodes: forbidden \(403\) by RBAC: nodes is forbidden: User "system:serviceaccount:ops:operator" cannot list resource "nodes"/);
  });

  it('reads the backlog through the API server service proxy at the endpoint the chart gave KEDA (no port-forward)', async () => {
    // gpu-keda.yaml: externalNats.monitoringEndpoint nats.messaging.svc.cluster.local:8222 → service nats:8222 in "messaging".
    api.serviceProxies.set('messaging/nats:8222', `http://127.0.0.1:${bus.server.monitorPort}`);
    const r = await ctl('status', '-o', 'json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.warnings).toEqual([]);
    const byStage = Object.fromEntries(s.stages.map((x: any) => [x.stage, x]));
    expect(byStage.decoder.backlog).toMatchObject({ stream: 'TESSERA_DECODER', consumer: 'decoder-workers', pending: 5, ackPending: 2, lag: 7 });
    expect(byStage.slicer.backlog.lag).toBe(3);
    const proxied = api.requests.find((q) => q.path.includes('/services/') && q.path.endsWith('/proxy/jsz'))!;
    expect(decodeURIComponent(proxied.path)).toBe('/api/v1/namespaces/messaging/services/nats:8222/proxy/jsz');
    expect(Object.fromEntries(proxied.query)).toMatchObject({ acc: '$G', consumers: 'true' });
    expect(proxied.authorization).toBe('Bearer test-token');

    // --nats-service points elsewhere; RBAC without services/proxy degrades to a warning, exit 0.
    api.serviceProxies.set('tessera/nats-mon:monitor', `http://127.0.0.1:${bus.server.monitorPort}`);
    expect(JSON.parse((await ctl('status', '-o', 'json', '--nats-service', 'nats-mon:monitor')).out).warnings).toEqual([]);
    api.forbidden = [{ method: 'GET', resource: 'services/proxy' }];
    const denied = await ctl('status', '-o', 'json');
    expect(denied.code).toBe(0);
    expect(JSON.parse(denied.out).warnings[0]).toMatch(/backlog unknown: .*forbidden \(403\).*services\/proxy/);
    expect((await ctl('status', '--nats-service', 'Not A Service')).code).toBe(0);
  });

  it('shows a mixed model revision during a rollout', async () => {
    const pod = api.get('v1', 'Pod', NS, 'r-tessera-decoder-7d9f8c6b5-bx1');
    pod.metadata.annotations['tessera.dev/model-revision'] = 'minicpm-v-2_6-old';
    api.put(pod);
    const r = await ctl('status');
    expect(r.out).toMatch(/decoder .* minicpm-v-2_6 \(pods: minicpm-v-2_6x1, minicpm-v-2_6-oldx1\)/);
    expect(r.out).toContain('GPU pool: 2 node(s), 4 allocatable GPU(s) on ready, schedulable nodes; 4 requested by release r');
    expect(r.out).toMatch(/\ngpu-a100-1\s+true\s+false\s+2\s+2\n/);
  });
});

describe('tessera ctl scale / restart', () => {
  it('scale patches the Deployment scale subresource and warns that the autoscaler will override it', async () => {
    const r = await ctl('scale', 'decoder', '3', '-o', 'yaml');
    expect(r.code).toBe(0);
    expect(load(r.out)).toMatchObject({ stage: 'decoder', deployment: 'r-tessera-decoder', previous: 2, replicas: 3 });
    expect(r.err).toContain('warning: decoder is autoscaled (keda 1-6): it will override this; run "tessera ctl autoscale pause decoder --replicas 3"');
    const patch = api.requests.find((q) => q.method === 'PATCH')!;
    expect(patch).toMatchObject({ path: `/apis/apps/v1/namespaces/${NS}/deployments/r-tessera-decoder/scale`, contentType: 'application/merge-patch+json', body: { spec: { replicas: 3 } } });
    expect(api.get('apps/v1', 'Deployment', NS, 'r-tessera-decoder').spec.replicas).toBe(3);
  });

  it('restart sets kubectl.kubernetes.io/restartedAt on the pod template (rollout restart)', async () => {
    const before = Date.now();
    const r = await ctl('restart', 'resampler');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^resampler: deployment r-tessera-resampler restarted at \d{4}-\d\d-\d\dT/);
    const d = api.get('apps/v1', 'Deployment', NS, 'r-tessera-resampler');
    const at = Date.parse(d.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']);
    expect(at).toBeGreaterThanOrEqual(before - 1000);
    // The chart's own template annotations survive the merge patch.
    expect(d.spec.template.metadata.annotations['tessera.dev/model-revision']).toBe('minicpm-v-2_6');
  });
});

describe('tessera ctl autoscale', () => {
  it('pause/resume a KEDA stage through the paused-replicas annotation', async () => {
    let r = await ctl('autoscale', 'pause', 'decoder', '--replicas', '2');
    expect(r).toMatchObject({ code: 0, out: 'decoder: ScaledObject r-tessera-decoder paused at 2 replica(s)\n' });
    expect(api.get('keda.sh/v1alpha1', 'ScaledObject', NS, 'r-tessera-decoder').metadata.annotations['autoscaling.keda.sh/paused-replicas']).toBe('2');
    r = await ctl('status', '-o', 'json');
    expect(JSON.parse(r.out).stages.find((s: any) => s.stage === 'decoder').autoscaler.pausedReplicas).toBe(2);
    r = await ctl('autoscale', 'resume', 'decoder');
    expect(r.out).toBe('decoder: ScaledObject r-tessera-decoder resumed (1-6 replicas on consumer lag)\n');
    expect(api.get('keda.sh/v1alpha1', 'ScaledObject', NS, 'r-tessera-decoder').metadata.annotations?.['autoscaling.keda.sh/paused-replicas']).toBeUndefined();
    r = await ctl('autoscale', 'resume', 'decoder', '-o', 'json');
    expect(JSON.parse(r.out).action).toBe('unchanged');
  });

  it('pause/resume fall back to pinning the HPA on a cluster without KEDA', async () => {
    seed(renderedHpa);
    api.kedaInstalled = false;
    let r = await ctl('autoscale', 'pause', 'slicer');
    expect(r.code).toBe(0);
    expect(r.out).toBe('slicer: HPA r-tessera-slicer pinned to 1 replica(s) (was 1-3)\n');
    let hpa = api.get('autoscaling/v2', 'HorizontalPodAutoscaler', NS, 'r-tessera-slicer');
    expect(hpa.spec).toMatchObject({ minReplicas: 1, maxReplicas: 1 });
    r = await ctl('status', '-o', 'json');
    expect(JSON.parse(r.out).stages.find((s: any) => s.stage === 'slicer').autoscaler).toMatchObject({ kind: 'hpa', paused: true });
    r = await ctl('autoscale', 'resume', 'slicer');
    expect(r.out).toBe('slicer: HPA r-tessera-slicer resumed (1-3 replicas)\n');
    hpa = api.get('autoscaling/v2', 'HorizontalPodAutoscaler', NS, 'r-tessera-slicer');
    expect(hpa.spec).toMatchObject({ minReplicas: 1, maxReplicas: 3 });
    expect(hpa.metadata.annotations?.['tessera.dev/paused-min-replicas']).toBeUndefined();
    // An HPA cannot hold zero replicas.
    r = await ctl('autoscale', 'pause', 'slicer', '--replicas', '0');
    expect(r.code).toBe(2);
    expect(r.err).toContain('an HPA cannot hold 0 replicas (minReplicas >= 1)');
  });

  it('refuses a stage that has no autoscaler', async () => {
    const r = await ctl('autoscale', 'pause', 'retrieval');
    expect(r.code).toBe(1);
    expect(r.err).toBe('tessera ctl: retrieval has no autoscaler (no ScaledObject or HorizontalPodAutoscaler "r-tessera-retrieval"): use "tessera ctl scale retrieval N"\n');
  });
});

describe('tessera ctl logs', () => {
  it('prints the tail of every pod of the stage, prefixed with the pod name', async () => {
    const r = await ctl('logs', 'decoder', '--tail', '1');
    expect(r.code).toBe(0);
    expect(r.out).toBe('[r-tessera-decoder-7d9f8c6b5-ax0] serving on :50054\n[r-tessera-decoder-7d9f8c6b5-bx1] serving on :50054\n');
    const q = api.requests.find((x) => x.path.endsWith('/log'))!;
    expect(q.query.get('container')).toBe('decoder');
    expect(q.query.get('tailLines')).toBe('1');
  });

  it('follows one pod (-f --pod) until its stream ends', async () => {
    const r = await ctl('logs', 'decoder', '-f', '--pod', 'r-tessera-decoder-7d9f8c6b5-ax0');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter(Boolean)).toEqual([
      '[r-tessera-decoder-7d9f8c6b5-ax0] loading model minicpm-v-2_6',
      '[r-tessera-decoder-7d9f8c6b5-ax0] session ready (cuda)',
      '[r-tessera-decoder-7d9f8c6b5-ax0] serving on :50054',
    ]);
    expect(api.requests.find((x) => x.path.endsWith('/log'))!.query.get('follow')).toBe('true');
  });
});

describe('tessera ctl: bad input and failures', () => {
  it('unknown stage or bad arguments: usage error, exit 2, before any API call', async () => {
    let r = await ctl('scale', 'decodr', '2');
    expect(r.code).toBe(2);
    expect(r.err).toContain('tessera ctl: unknown stage "decodr": expected one of gateway, slicer, resampler, decoder, retrieval, feedback, combined');
    r = await ctl('scale', 'decoder', 'three');
    expect(r.code).toBe(2);
    expect(r.err).toContain('N must be a whole number 0..1000 (got "three")');
    r = await ctl('status', '-o', 'xml');
    expect(r).toMatchObject({ code: 2, err: expect.stringContaining('--output must be "table", "wide", "json" or "yaml" (got "xml")') });
    r = await ctl('status', '--context', 'nope');
    expect(r).toMatchObject({ code: 2, err: expect.stringContaining('context "nope" is not in the kubeconfig (contexts: fake, down)') });
    r = await ctl('frobnicate');
    expect(r.code).toBe(2);
    expect(api.requests).toHaveLength(0);
  });

  it('unreachable cluster: clear error, exit 1', async () => {
    const r = await ctl('status', '--context', 'down');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^tessera ctl: list deployments in namespace "tessera": cannot reach the Kubernetes API server at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it('an API server that does not answer: bounded by --request-timeout, exit 1', async () => {
    api.hang = ['/deployments'];
    const r = await ctl('status', '--request-timeout', '300ms');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/list deployments in namespace "tessera": no answer from the API server at http:\/\/127\.0\.0\.1:\d+ within 300 ms/);
  });

  it('missing RBAC permission (403): names the verb and resource, exit 1', async () => {
    api.forbidden = [{ method: 'GET', resource: 'deployments' }];
    let r = await ctl('status');
    expect(r.code).toBe(1);
    expect(r.err).toContain('tessera ctl: list deployments in namespace "tessera": forbidden (403) by RBAC: deployments.apps is forbidden: User "system:serviceaccount:ops:operator" cannot list resource "deployments" in API group "apps" in the namespace "tessera"');
    expect(r.err).toContain('rbac.operatorSubjects');
    api.forbidden = [{ method: 'PATCH', resource: 'deployments/scale' }];
    r = await ctl('scale', 'slicer', '2');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/scale deployment "r-tessera-slicer": forbidden \(403\) by RBAC: .*cannot patch resource "deployments\/scale"/);
    expect(api.get('apps/v1', 'Deployment', NS, 'r-tessera-slicer').spec.replicas).toBe(1);
  });

  it('wrong namespace or release: not found, exit 1', async () => {
    let r = await ctl('status', '-n', 'elsewhere');
    expect(r).toMatchObject({ code: 1, err: expect.stringContaining('no Tessera deployments in namespace "elsewhere"') });
    r = await ctl('restart', 'decoder', '--release', 'prod');
    expect(r).toMatchObject({ code: 1, err: expect.stringContaining('no Tessera deployments of release "prod" in namespace "tessera"') });
    r = await ctl('logs', 'decoder', '--pod', 'r-tessera-slicer-x');
    expect(r).toMatchObject({ code: 1, err: expect.stringContaining('pod "r-tessera-slicer-x" is not a decoder pod') });
  });
});
