import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { TesseraError } from '@tessera/errors';
import { type Autoscaler, describeAutoscaler, listAutoscalers, type ScaledObject } from './autoscalers.js';
import { combinedStages, findRelease } from './find-deployments.js';
import { type ConsumerBacklog, monitoringService, readBacklog, readBacklogThroughApi } from './jetstream-backlog.js';
import type { Kube } from './kube.js';
import { ANNOTATION_MODEL_REVISION, LABEL_INSTANCE, LABEL_PART_OF, STAGE_NAMES, STAGES, type StageName } from './stages.js';

export interface StageStatus {
  stage: StageName;
  deployment: string | null;
  desired: number;
  ready: number;
  updated: number;
  available: number;
  autoscaler: Autoscaler;
  /** KEDA lag (pending + ack pending) of the stage's consumer; null when unknown or not a queue stage. */
  backlog: ConsumerBacklog | null;
  /** The revision the pod template asks for. */
  modelRevision: string | null;
  /** Revisions the running pods carry, with counts (differs from modelRevision mid-rollout). */
  podRevisions: Record<string, number>;
  /** Container images of the pod template (`-o wide`). */
  images: string[];
  /** Nodes the stage's pods run on (`-o wide`). */
  nodes: string[];
}

export interface GpuNode {
  name: string;
  ready: boolean;
  schedulable: boolean;
  allocatableGpus: number;
  capacityGpus: number;
}

/** One extended GPU resource: the whole-GPU one, a time-sliced share or a MIG profile. */
export interface GpuResourceUse {
  /** e.g. nvidia.com/gpu, nvidia.com/gpu.shared (time-slicing), nvidia.com/mig-3g.40gb (MIG). */
  resource: string;
  /** What this release's running or pending pods limit. */
  requested: number;
  /** Allocatable on ready, schedulable GPU nodes; null when the nodes could not be read. */
  allocatable: number | null;
}

export interface ClusterStatus {
  context: string;
  server: string;
  namespace: string;
  release: string;
  stages: StageStatus[];
  /** null when the nodes could not be read (cluster-scoped RBAC); see warnings. */
  gpuNodes: GpuNode[] | null;
  gpuTotals: { nodes: number; allocatable: number } | null;
  /** GPUs this release's pods (running or pending) ask for: compare with gpuTotals.allocatable. */
  gpusRequestedByRelease: number;
  /**
   * Per GPU resource the release requests (the chart's gpu.resourceName, per-stage gpuResourceName:
   * time-sliced or MIG names), the default resource first: the totals above count only that one.
   */
  gpuResources: GpuResourceUse[];
  warnings: string[];
}

export interface StatusOptions {
  release?: string;
  natsMonitor?: string;
  /** NATS monitoring Service (`name[.ns]:port`) read through the API server proxy; default: the chart's KEDA trigger, else nats:8222. */
  natsService?: string;
  natsAccount: string;
  gpuResource: string;
  gpuNodeLabel: string;
  timeoutMs: number;
}

const quantity = (v: string | undefined): number => (v === undefined ? 0 : Number.parseInt(v, 10) || 0);

function gpuNode(n: V1Node, resource: string): GpuNode {
  const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  return {
    name: n.metadata?.name ?? '',
    ready,
    schedulable: !n.spec?.unschedulable,
    allocatableGpus: quantity(n.status?.allocatable?.[resource]),
    capacityGpus: quantity(n.status?.capacity?.[resource]),
  };
}

/**
 * Per stage: desired/ready replicas, autoscaler, JetStream backlog, model revision; plus the GPU
 * pool. Deployments (and pods, autoscalers) must be readable; nodes are cluster-scoped and NATS may
 * be unreachable from the operator's machine, so those two degrade to a warning instead of failing.
 */
export async function collectStatus(kube: Kube, opts: StatusOptions): Promise<ClusterStatus> {
  const { release, byStage } = await findRelease(kube, opts.release);
  const warnings: string[] = [];
  // KEDA's trigger names the monitoring endpoint the chart was installed with: the default place to read the backlog.
  let kedaEndpoint: string | undefined;
  const seen = (so: ScaledObject) => {
    kedaEndpoint ??= so.spec?.triggers?.find((t) => t.type === 'nats-jetstream')?.metadata?.natsServerMonitoringEndpoint;
  };
  const [autoscalers, pods] = await Promise.all([
    listAutoscalers(kube, seen),
    kube.call(`list pods in namespace "${kube.namespace}"`, () =>
      kube.core.listNamespacedPod({ namespace: kube.namespace, labelSelector: `${LABEL_PART_OF}=tessera,${LABEL_INSTANCE}=${release}` }),
    ),
  ]);

  let backlog: Map<string, ConsumerBacklog> | null = null;
  try {
    if (opts.natsMonitor) backlog = await readBacklog(opts.natsMonitor, opts.natsAccount, opts.timeoutMs);
    else backlog = await readBacklogThroughApi(kube, monitoringService(opts.natsService ?? kedaEndpoint ?? 'nats:8222', kube.namespace), opts.natsAccount);
  } catch (err) {
    const how = opts.natsMonitor ? '' : ' (pass --nats-service NAME[.NAMESPACE]:PORT, or --nats-monitor http://HOST:8222 to read it directly)';
    warnings.push(`backlog unknown: ${TesseraError.from(err).message}${how}`);
  }

  let gpuNodes: GpuNode[] | null = null;
  let nodeItems: V1Node[] = [];
  try {
    const nodes = await kube.call('list GPU nodes', () => kube.core.listNode({ labelSelector: `${opts.gpuNodeLabel}=true` }));
    nodeItems = nodes.items;
    gpuNodes = nodes.items.map((n) => gpuNode(n, opts.gpuResource));
  } catch (err) {
    warnings.push(`GPU nodes unknown: ${TesseraError.from(err).message}`);
  }

  const podsByStage = new Map<string, V1Pod[]>();
  for (const p of pods.items) {
    const c = p.metadata?.labels?.['app.kubernetes.io/component'] ?? '';
    podsByStage.set(c, [...(podsByStage.get(c) ?? []), p]);
  }

  const stages: StageStatus[] = [];
  for (const name of STAGE_NAMES) {
    const d = byStage.get(name);
    const depName = d?.metadata?.name ?? null;
    const podRevisions: Record<string, number> = {};
    for (const p of podsByStage.get(name) ?? []) {
      const rev = p.metadata?.annotations?.[ANNOTATION_MODEL_REVISION];
      if (rev) podRevisions[rev] = (podRevisions[rev] ?? 0) + 1;
    }
    let stageBacklog: ConsumerBacklog | null = null;
    // The combined pod serves every queue of the stages it runs: its backlog is their sum (what its KEDA formula weighs).
    for (const member of name === 'combined' ? combinedStages(d) : [name]) {
      const m = STAGES[member];
      if (!backlog || !m.stream || !m.consumer) continue;
      const one = backlog.get(`${m.stream}/${m.consumer}`);
      if (!one) {
        warnings.push(`no JetStream consumer ${m.stream}/${m.consumer} in account ${opts.natsAccount}: KEDA would scale ${name} on the stream's last sequence`);
        continue;
      }
      stageBacklog = stageBacklog ? addBacklog(stageBacklog, one) : one;
    }
    stages.push({
      stage: name,
      deployment: depName,
      desired: d?.spec?.replicas ?? 0,
      ready: d?.status?.readyReplicas ?? 0,
      updated: d?.status?.updatedReplicas ?? 0,
      available: d?.status?.availableReplicas ?? 0,
      autoscaler: (depName && autoscalers.get(depName)) || { kind: 'none' },
      backlog: stageBacklog,
      modelRevision: d?.spec?.template?.metadata?.annotations?.[ANNOTATION_MODEL_REVISION] ?? null,
      podRevisions,
      images: (d?.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? ''),
      nodes: [...new Set((podsByStage.get(name) ?? []).map((p) => p.spec?.nodeName ?? '').filter(Boolean))].sort(),
    });
  }
  // Every NVIDIA device-plugin resource the release's live pods limit, the default one always listed.
  const requested = new Map<string, number>([[opts.gpuResource, 0]]);
  for (const p of pods.items) {
    if (p.status?.phase !== 'Running' && p.status?.phase !== 'Pending') continue;
    for (const c of p.spec?.containers ?? []) {
      for (const [k, v] of Object.entries(c.resources?.limits ?? {})) if (k === opts.gpuResource || k.startsWith('nvidia.com/')) requested.set(k, (requested.get(k) ?? 0) + quantity(v));
    }
  }
  const gpusRequestedByRelease = requested.get(opts.gpuResource)!;
  const usable = nodeItems.filter((n) => gpuNode(n, opts.gpuResource).ready && !n.spec?.unschedulable);
  const gpuResources: GpuResourceUse[] = [...requested].map(([resource, n]) => ({
    resource,
    requested: n,
    allocatable: gpuNodes ? usable.reduce((s, node) => s + quantity(node.status?.allocatable?.[resource]), 0) : null,
  }));
  const gpuTotals = gpuNodes ? { nodes: gpuNodes.length, allocatable: gpuNodes.filter((n) => n.ready && n.schedulable).reduce((s, n) => s + n.allocatableGpus, 0) } : null;
  return {
    context: kube.config.getCurrentContext(),
    server: kube.server,
    namespace: kube.namespace,
    release,
    stages: stages.filter((s) => s.deployment !== null),
    gpuNodes,
    gpuTotals,
    gpusRequestedByRelease,
    gpuResources,
    warnings,
  };
}

function addBacklog(a: ConsumerBacklog, b: ConsumerBacklog): ConsumerBacklog {
  return {
    stream: `${a.stream},${b.stream}`,
    consumer: `${a.consumer},${b.consumer}`,
    pending: a.pending + b.pending,
    ackPending: a.ackPending + b.ackPending,
    lag: a.lag + b.lag,
    redelivered: a.redelivered + b.redelivered,
    waiting: a.waiting + b.waiting,
  };
}

export { describeAutoscaler };
