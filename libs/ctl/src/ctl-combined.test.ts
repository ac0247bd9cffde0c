/**
 * `tessera ctl` with the chart's combined GPU pod (ci/one-gpu-combined.yaml): a fake Kubernetes API
 * seeded with the rendered objects, and a real nats-server holding the deploy/nats/ streams. The
 * combined pod is a stage of its own (status, scale, autoscale); its backlog is the sum of the stages
 * it runs, and asking for one of those stages by name points at it. Time-sliced and MIG resources
 * (ci/one-gpu-shared.yaml, ci/mig.yaml) are counted under their own names.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@tessera/testing';
import { withNats } from '@tessera/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_DIR, helm, type K8sObject, parseManifests } from './helm-render.js';
import { clusterFromRender, FakeKubeApi, gpuPoolNodes } from './test/fake-kube-api.js';
import { addDeployStreams, ctlWith } from './test/ctl-run.js';

const NS = 'tessera';
let api: FakeKubeApi;
const bus = withNats();
let dir: string;
let kubeconfig: string;

const ctl = (...argv: string[]) => ctlWith(kubeconfig, argv);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-ctl-combined-'));
  const r = await helm(['template', 'r', CHART_DIR, '-n', NS, '-f', join(CHART_DIR, 'ci', 'one-gpu-combined.yaml')]);
  if (r.code !== 0) throw new Error(r.stderr);
  api = new FakeKubeApi();
  await api.start();
  api.kedaInstalled = true;
  api.put(...clusterFromRender(parseManifests(r.stdout), NS, () => 1), ...gpuPoolNodes());
  kubeconfig = join(dir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, NS, `http://127.0.0.1:${await freePort()}`);
  await addDeployStreams(bus.nc, ['slicer', 'resampler', 'decoder'], ['slicer', 'resampler', 'decoder']);
  const js = bus.nc.jetstream();
  for (let i = 0; i < 3; i++) await js.publish('tessera.work.slicer.encode', new TextEncoder().encode(`img-${i}`), { msgID: `s-${i}` });
  for (let i = 0; i < 4; i++) await js.publish('tessera.work.decoder.generate', new TextEncoder().encode(`job-${i}`), { msgID: `d-${i}` });
}, 60_000);

afterAll(async () => {
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('tessera ctl with the combined GPU pod', () => {
  it('status lists the combined pod with the summed backlog of its stages and its KEDA bounds', async () => {
    const r = await ctl('status', '-o', 'json', '--nats-monitor', `http://127.0.0.1:${bus.server.monitorPort}`);
    expect(r.err).toBe('');
    const s = JSON.parse(r.out);
    expect(s.warnings).toEqual([]);
    expect(s.stages.map((x: any) => x.stage)).toEqual(['gateway', 'retrieval', 'feedback', 'combined']);
    const combined = s.stages.find((x: any) => x.stage === 'combined');
    expect(combined).toMatchObject({ deployment: 'r-tessera-combined', desired: 1, ready: 1, autoscaler: { kind: 'keda', name: 'r-tessera-combined', min: 1, max: 2 } });
    expect(combined.backlog).toMatchObject({ stream: 'TESSERA_SLICER,TESSERA_RESAMPLER,TESSERA_DECODER', pending: 7, lag: 7 });
    // One pod, one GPU for all three stages.
    expect(s.gpusRequestedByRelease).toBe(1);
  });

  it('scales the combined pod; a stage inside it is refused with a pointer to it', async () => {
    let r = await ctl('scale', 'combined', '0', '-o', 'json');
    expect(r.code).toBe(0);
    expect(api.get('apps/v1', 'Deployment', NS, 'r-tessera-combined').spec.replicas).toBe(0);
    r = await ctl('scale', 'decoder', '2');
    expect(r.code).toBe(1);
    expect(r.err).toContain('decoder runs inside r-tessera-combined with slicer, resampler, decoder (combined.enabled): use STAGE combined');
  });
});

/** A GPU node advertising these device-plugin resources (what time-slicing or MIG publish). */
const gpuNode = (name: string, resources: Record<string, string>): K8sObject =>
  ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'nvidia.com/gpu.present': 'true' } },
    spec: {},
    status: { capacity: resources, allocatable: resources, conditions: [{ type: 'Ready', status: 'True' }] },
  }) as K8sObject;

async function seedWith(values: string, nodes: K8sObject[]): Promise<void> {
  const r = await helm(['template', 'r', CHART_DIR, '-n', NS, '-f', join(CHART_DIR, 'ci', values)]);
  if (r.code !== 0) throw new Error(r.stderr);
  (api as unknown as { store: Map<string, K8sObject> }).store.clear();
  api.put(...clusterFromRender(parseManifests(r.stdout), NS, () => 1), ...nodes);
}

describe('tessera ctl status with shared GPU resources', () => {
  it('time-slicing: the release requests nvidia.com/gpu.shared, counted against what the nodes advertise', async () => {
    await seedWith('one-gpu-shared.yaml', [gpuNode('gpu-t4-0', { 'nvidia.com/gpu.shared': '4' })]);
    const r = await ctl('status', '-o', 'json', '--nats-monitor', `http://127.0.0.1:${bus.server.monitorPort}`);
    const s = JSON.parse(r.out);
    expect(s.gpusRequestedByRelease).toBe(0);
    // slicer, resampler and a warm decoder (minReplicas 1 in the scenario; the fake runs one pod each).
    expect(s.gpuResources).toEqual([
      { resource: 'nvidia.com/gpu', requested: 0, allocatable: 0 },
      { resource: 'nvidia.com/gpu.shared', requested: 3, allocatable: 4 },
    ]);
    const table = await ctl('status', '--nats-monitor', `http://127.0.0.1:${bus.server.monitorPort}`);
    expect(table.out).toContain('shared GPU resources: nvidia.com/gpu.shared 3 requested, 4 allocatable');
  });

  it('MIG: one profile per stage, each counted on its own', async () => {
    await seedWith('mig.yaml', [gpuNode('gpu-a100-0', { 'nvidia.com/mig-1g.10gb': '2', 'nvidia.com/mig-2g.20gb': '1', 'nvidia.com/mig-3g.40gb': '1' })]);
    const s = JSON.parse((await ctl('status', '-o', 'json', '--nats-monitor', `http://127.0.0.1:${bus.server.monitorPort}`)).out);
    expect(Object.fromEntries(s.gpuResources.map((g: any) => [g.resource, [g.requested, g.allocatable]]))).toEqual({
      'nvidia.com/gpu': [0, 0],
      'nvidia.com/mig-2g.20gb': [1, 1],
      'nvidia.com/mig-1g.10gb': [1, 2],
      'nvidia.com/mig-3g.40gb': [1, 1],
    });
  });
});
