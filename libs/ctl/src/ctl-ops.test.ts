/**
 * `tessera ctl` rollout status|undo, describe (with events), -o wide, cordon|uncordon|drain of a GPU
 * node — against the fake Kubernetes API (no kube-apiserver can run here) seeded with the chart's own
 * rendered objects, every stored object schema-checked as the real server would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clusterFromRender, FakeKubeApi, gpuPoolNodes } from './test/fake-kube-api.js';
import { ctlWith } from './test/ctl-run.js';
import { CHART_DIR, helm, type K8sObject, parseManifests } from './helm-render.js';

const NS = 'tessera';
const DECODER = 'r-tessera-decoder';
let api: FakeKubeApi;
let dir: string;
let kubeconfig: string;
let rendered: K8sObject[];

const ctl = (argv: string[], confirm?: (q: string) => Promise<boolean>) => ctlWith(kubeconfig, argv, confirm);

const decoder = (): any => api.get('apps/v1', 'Deployment', NS, DECODER);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-ctl-ops-'));
  const r = await helm(['template', 'r', CHART_DIR, '-n', NS, '-f', join(CHART_DIR, 'ci', 'gpu-keda.yaml')]);
  if (r.code !== 0) throw new Error(r.stderr);
  rendered = parseManifests(r.stdout);
  api = new FakeKubeApi();
  await api.start();
  kubeconfig = join(dir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, NS, 'http://127.0.0.1:9');
}, 120_000);

afterAll(async () => {
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  (api as unknown as { store: Map<string, K8sObject> }).store.clear();
  api.evictionRefusals.clear();
  api.put(...clusterFromRender(rendered, NS, (name) => (name.endsWith('decoder') ? 2 : 1)), ...gpuPoolNodes());
  // The decoder's pods run on gpu-a100-0, beside the NVIDIA device plugin (a DaemonSet pod drain leaves).
  for (const p of api.list('v1', 'Pod', NS).filter((x) => x.metadata.name.startsWith(DECODER))) api.put({ ...p, spec: { ...p.spec, nodeName: 'gpu-a100-0' } });
  api.put({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'nvidia-device-plugin-x1', namespace: 'gpu-operator', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'nvidia-device-plugin', uid: 'ds-1' }] },
    spec: { nodeName: 'gpu-a100-0', containers: [{ name: 'plugin', image: 'nvcr.io/nvidia/k8s-device-plugin:v0.17.0' }] },
    status: { phase: 'Running' },
  } as K8sObject);
});

describe('tessera ctl rollout', () => {
  it('status: done → exit 0; a rollout that does not finish → exit 1 after --timeout; --no-wait reports once; a missed progress deadline → exit 1', async () => {
    const done = await ctl(['rollout', 'status', 'decoder']);
    expect(done).toMatchObject({ code: 0, err: '' });
    expect(done.out).toBe(`decoder: deployment "${DECODER}" successfully rolled out\n`);

    api.put({ ...decoder(), status: { ...decoder().status, updatedReplicas: 1, availableReplicas: 1 } });
    const stuck = await ctl(['rollout', 'status', 'decoder', '--timeout', '1s']);
    expect(stuck.code).toBe(1);
    expect(stuck.out).toContain('decoder: waiting for rollout: 1 of 2 new replicas updated');
    expect(stuck.err).toMatch(/rollout not finished within 1000 ms \(1 of 2 new replicas updated\)/);
    const once = await ctl(['rollout', 'status', 'decoder', '--no-wait', '-o', 'json']);
    expect(once.code).toBe(0);
    expect(JSON.parse(once.out)).toMatchObject({ phase: 'progressing', desired: 2, updated: 1 });

    api.put({ ...decoder(), status: { ...decoder().status, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "r-tessera-decoder-5c4" has timed out progressing.' }] } });
    const failed = await ctl(['rollout', 'status', 'decoder']);
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(/exceeded its progress deadline: ReplicaSet "r-tessera-decoder-5c4" has timed out progressing/);
  });

  it('status follows a rollout to its end', async () => {
    api.put({ ...decoder(), status: { ...decoder().status, updatedReplicas: 1 } });
    setTimeout(() => api.put({ ...decoder(), status: { ...decoder().status, updatedReplicas: 2 } }), 300);
    const r = await ctl(['rollout', 'status', 'decoder', '--timeout', '2m']);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toEqual(['decoder: waiting for rollout: 1 of 2 new replicas updated', `decoder: deployment "${DECODER}" successfully rolled out`]);
  });

  it('undo: the template of the previous ReplicaSet replaces the current one (restartedAt does not survive); --to-revision must exist', async () => {
    const d = decoder();
    const current = structuredClone(d.spec.template);
    current.metadata.annotations = { ...current.metadata.annotations, 'kubectl.kubernetes.io/restartedAt': '2026-12-03T20:00:00Z' };
    const old = structuredClone(d.spec.template);
    old.metadata.annotations = { ...old.metadata.annotations, 'tessera.dev/model-revision': 'minicpm-v-2_6-old' };
    old.spec.containers[0].image = old.spec.containers[0].image.replace(/:[^:]+$/, ':0.0.9-cuda');
    api.put({ ...d, metadata: { ...d.metadata, annotations: { ...d.metadata.annotations, 'deployment.kubernetes.io/revision': '2' } }, spec: { ...d.spec, template: current } });
    const owner = [{ apiVersion: 'apps/v1', kind: 'Deployment', name: DECODER, uid: decoder().metadata.uid, controller: true }];
    const rs = (rev: number, template: any, hash: string): K8sObject =>
      ({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: `${DECODER}-${hash}`, namespace: NS, labels: { ...template.metadata.labels, 'pod-template-hash': hash }, annotations: { 'deployment.kubernetes.io/revision': String(rev) }, ownerReferences: owner },
        spec: { replicas: rev === 2 ? 2 : 0, selector: { matchLabels: { ...d.spec.selector.matchLabels, 'pod-template-hash': hash } }, template: { ...template, metadata: { ...template.metadata, labels: { ...template.metadata.labels, 'pod-template-hash': hash } } } },
      }) as K8sObject;
    api.put(rs(1, old, '6f7a1'), rs(2, current, '7d9f8'));

    const r = await ctl(['rollout', 'undo', 'decoder']);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toBe(`decoder: deployment ${DECODER} rolled back from revision 2 to 1 (model revision minicpm-v-2_6-old)\n`);
    const after = decoder().spec.template;
    expect(after.metadata.annotations['tessera.dev/model-revision']).toBe('minicpm-v-2_6-old');
    expect(after.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toBeUndefined();
    expect(after.metadata.labels['pod-template-hash']).toBeUndefined();
    expect(after.spec.containers[0].image).toMatch(/:0\.0\.9-cuda$/);
    const patch = api.requests.find((q) => q.method === 'PATCH' && q.path.endsWith(`/deployments/${DECODER}`))!;
    expect(patch.contentType).toBe('application/merge-patch+json');

    const missing = await ctl(['rollout', 'undo', 'decoder', '--to-revision', '7']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/has no revision 7 to roll back to \(revisions kept: 1, 2;/);
    expect((await ctl(['rollout', 'restart', 'decoder'])).code).toBe(2);
  });
});

describe('tessera ctl describe and -o wide', () => {
  it('describe: rollout, autoscaler, pods with node and IP, and the events of the deployment and its pods only', async () => {
    const ev = (name: string, kind: string, obj: string, reason: string, message: string, type: string, at: string): K8sObject =>
      ({ apiVersion: 'v1', kind: 'Event', metadata: { name, namespace: NS }, involvedObject: { kind, name: obj, namespace: NS }, reason, message, type, count: 1, lastTimestamp: at }) as K8sObject;
    api.put(
      ev('e1', 'Deployment', DECODER, 'ScalingReplicaSet', 'Scaled up replica set r-tessera-decoder-7d9f8c6b5 to 2', 'Normal', '2026-12-03T20:00:00Z'),
      ev('e2', 'Pod', `${DECODER}-7d9f8c6b5-bx1`, 'FailedScheduling', '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.', 'Warning', '2026-12-03T20:00:05Z'),
      ev('e3', 'Deployment', 'r-tessera-gateway', 'ScalingReplicaSet', 'Scaled up replica set r-tessera-gateway-1 to 2', 'Normal', '2026-12-03T20:00:01Z'),
    );
    const r = await ctl(['describe', 'decoder']);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain(`Deployment:       ${DECODER} (revision 0)`);
    expect(r.out).toContain('Autoscaler:       keda 1-6');
    expect(r.out).toMatch(/Limits: .*nvidia\.com\/gpu=1/);
    expect(r.out).toMatch(new RegExp(`${DECODER}-7d9f8c6b5-ax0\\s+1/1\\s+Running\\s+0\\s+gpu-a100-0\\s+10\\.0\\.0\\.10\\s+minicpm-v-2_6`));
    expect(r.out).toMatch(/Warning\s+FailedScheduling\s+pod\/r-tessera-decoder-7d9f8c6b5-bx1\s+1\s+2026-12-03T20:00:05.*Insufficient nvidia\.com\/gpu/);
    expect(r.out).not.toContain('r-tessera-gateway-1');
    const json = JSON.parse((await ctl(['describe', 'decoder', '-o', 'json'])).out);
    expect(json.events.map((e: any) => e.reason)).toEqual(['ScalingReplicaSet', 'FailedScheduling']);
    expect(json.pods).toHaveLength(2);
  });

  it('status -o wide adds the images and the nodes each stage runs on', async () => {
    const r = await ctl(['status', '-o', 'wide', '--nats-monitor', 'http://127.0.0.1:9']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^STAGE\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AUTOSCALER\s+BACKLOG\s+MODEL-REVISION\s+IMAGES\s+NODES$/m);
    expect(r.out).toMatch(/\ndecoder\s+2\/2\s+2\s+2\s+keda 1-6\s+-\s+minicpm-v-2_6\s+\S+\/decoder:\S+-cuda\s+gpu-a100-0\n/);
    expect(r.out).toMatch(/\ngateway\s+.*\s+-\n/);
  });
});

describe('tessera ctl cordon / uncordon / drain (GPU nodes)', () => {
  const node = (name: string): any => api.get('v1', 'Node', undefined, name);

  it('cordon asks first: no terminal and no --yes → exit 2; "no" changes nothing; --yes or "y" cordons; uncordon reverts', async () => {
    const noTty = await ctl(['cordon', 'gpu-a100-0']);
    expect(noTty.code).toBe(2);
    expect(noTty.err).toContain('needs confirmation: pass --yes');
    const no = await ctl(['cordon', 'gpu-a100-0'], async () => false);
    expect(no.code).toBe(1);
    expect(no.asked[0]).toBe('cordon GPU node gpu-a100-0 (4 GPU(s)): no new pods will be scheduled on it. Continue? [y/N] ');
    expect(node('gpu-a100-0').spec.unschedulable).toBeUndefined();
    expect((await ctl(['cordon', 'gpu-a100-0'], async () => true)).code).toBe(0);
    expect(node('gpu-a100-0').spec.unschedulable).toBe(true);
    expect((await ctl(['uncordon', 'gpu-a100-0'])).out).toBe('node gpu-a100-0 uncordoned\n');
    expect(node('gpu-a100-0').spec.unschedulable).toBeUndefined();
    expect((await ctl(['cordon', 'gpu-a100-0', '--yes', '-o', 'json'])).out).toContain('"schedulable": false');
  });

  it('refuses a node outside the GPU pool (2) and a missing one (1)', async () => {
    const cpu = await ctl(['cordon', 'cpu-0', '--yes']);
    expect(cpu.code).toBe(2);
    expect(cpu.err).toContain('node "cpu-0" is not a GPU node (no label nvidia.com/gpu.present=true)');
    const missing = await ctl(['drain', 'gpu-z', '--yes']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('node "gpu-z" does not exist');
    expect((await ctl(['drain'])).code).toBe(2);
  });

  it('drain cordons, evicts the Tessera pods through the Eviction API (retrying a disruption budget), leaves DaemonSet pods', async () => {
    api.evictionRefusals.set(`${DECODER}-7d9f8c6b5-bx1`, 1);
    const r = await ctl(['drain', 'gpu-a100-0'], async () => true);
    expect(r.code).toBe(0);
    expect(r.asked[0]).toBe(`drain GPU node gpu-a100-0 (4 GPU(s)): cordon it and evict 2 pod(s): ${NS}/${DECODER}-7d9f8c6b5-ax0, ${NS}/${DECODER}-7d9f8c6b5-bx1. Continue? [y/N] `);
    expect(r.out).toContain(`evicted pod ${NS}/${DECODER}-7d9f8c6b5-ax0`);
    expect(r.out).toContain('node gpu-a100-0 drained (2 pod(s) evicted; 1 waited for a disruption budget)');
    expect(node('gpu-a100-0').spec.unschedulable).toBe(true);
    expect(api.list('v1', 'Pod', NS).filter((p) => p.metadata.name.startsWith(DECODER))).toEqual([]);
    expect(api.get('v1', 'Pod', 'gpu-operator', 'nvidia-device-plugin-x1')).toBeTruthy();
    const evictions = api.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/eviction'));
    expect(evictions).toHaveLength(3);
    expect(evictions[0]!.body).toMatchObject({ apiVersion: 'policy/v1', kind: 'Eviction' });
  }, 60_000);

  it('a budget that never allows the eviction fails the drain after --timeout, naming the pod (exit 1)', async () => {
    api.evictionRefusals.set(`${DECODER}-7d9f8c6b5-ax0`, 1000);
    const r = await ctl(['drain', 'gpu-a100-0', '--yes', '--timeout', '1s']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`1 pod\\(s\\) could not be evicted within 1000 ms .*${NS}/${DECODER}-7d9f8c6b5-ax0`));
  });
});
