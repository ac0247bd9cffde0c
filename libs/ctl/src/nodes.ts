import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { ErrorCode, invalidArgument, TesseraError } from '@tessera/errors';
import { type Kube, mergePatch } from './kube.js';
import { isNotFound } from './kube-errors.js';

export interface NodeTarget {
  node: string;
  gpus: number;
  /** Pods drain would evict: not DaemonSet-owned, not mirror (static) pods, not finished. */
  evictable: { namespace: string; name: string }[];
}

export interface DrainProgress {
  evicted: string[];
  /** Evictions a PodDisruptionBudget refused (429) at least once. */
  blocked: string[];
}

const quantity = (v: string | undefined) => (v === undefined ? 0 : Number.parseInt(v, 10) || 0);

/**
 * The node and what a drain would move. Only GPU nodes (the pool the GPU stages run on, label
 * `gpuNodeLabel=true`) are operated on: this CLI is for the Tessera GPU pool, not the whole cluster.
 */
export async function inspectNode(kube: Kube, name: string | undefined, o: { gpuNodeLabel: string; gpuResource: string }): Promise<NodeTarget> {
  if (!name) throw invalidArgument('NODE', 'missing NODE: the name of a GPU node (see `tessera ctl status`)');
  let node: V1Node;
  try {
    node = await kube.call(`get node "${name}"`, () => kube.core.readNode({ name }));
  } catch (err) {
    if (isNotFound(err)) throw new TesseraError(ErrorCode.NOT_FOUND, `node "${name}" does not exist`, { field: 'NODE' });
    throw err;
  }
  if (node.metadata?.labels?.[o.gpuNodeLabel] !== 'true') {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `node "${name}" is not a GPU node (no label ${o.gpuNodeLabel}=true): tessera ctl only cordons and drains the GPU pool; use kubectl for other nodes`, { field: 'NODE' });
  }
  const pods = await kube.call(`list pods on node "${name}"`, () => kube.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` }));
  const evictable = pods.items.filter(isEvictable).map((p) => ({ namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '' }));
  return { node: name, gpus: quantity(node.status?.allocatable?.[o.gpuResource]), evictable };
}

function isEvictable(p: V1Pod): boolean {
  if (p.metadata?.annotations?.['kubernetes.io/config.mirror']) return false;
  if (p.metadata?.ownerReferences?.some((r) => r.kind === 'DaemonSet')) return false;
  return p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
}

/** `kubectl cordon` / `uncordon`: spec.unschedulable. */
export async function setSchedulable(kube: Kube, node: string, schedulable: boolean): Promise<void> {
  const body = { spec: { unschedulable: schedulable ? null : true } };
  await kube.call(`${schedulable ? 'uncordon' : 'cordon'} node "${node}"`, () => kube.core.patchNode({ name: node, body }, mergePatch()));
}

/**
 * `kubectl drain`: cordon, then evict every evictable pod through the Eviction API so
 * PodDisruptionBudgets hold (the chart's GPU stages have maxUnavailable 1). A 429 (budget) is retried
 * every `retryMs` until `timeoutMs`, then the drain fails naming the pods still there.
 */
export async function drainNode(kube: Kube, t: NodeTarget, o: { timeoutMs: number; retryMs?: number; onEvicted?: (pod: string) => void }): Promise<DrainProgress> {
  await setSchedulable(kube, t.node, false);
  const until = Date.now() + o.timeoutMs;
  const left = new Map(t.evictable.map((p) => [`${p.namespace}/${p.name}`, p]));
  const progress: DrainProgress = { evicted: [], blocked: [] };
  while (left.size > 0) {
    for (const [key, p] of left) {
      try {
        await kube.call(`evict pod ${key}`, () =>
          kube.core.createNamespacedPodEviction({ name: p.name, namespace: p.namespace, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: p.name, namespace: p.namespace } } }),
        );
        left.delete(key);
        progress.evicted.push(key);
        o.onEvicted?.(key);
      } catch (err) {
        if (isNotFound(err)) {
          left.delete(key); // already gone
          continue;
        }
        if (TesseraError.from(err).code !== ErrorCode.RESOURCE_EXHAUSTED) throw err;
        if (!progress.blocked.includes(key)) progress.blocked.push(key);
      }
    }
    if (left.size === 0) break;
    if (Date.now() >= until) {
      throw new TesseraError(ErrorCode.DEADLINE_EXCEEDED, `node "${t.node}" cordoned, but ${left.size} pod(s) could not be evicted within ${o.timeoutMs} ms (a PodDisruptionBudget allows no more disruption now): ${[...left.keys()].join(', ')}`, { field: 'timeout', limit: `${o.timeoutMs} ms` });
    }
    await new Promise((r) => setTimeout(r, Math.min(o.retryMs ?? 5000, Math.max(0, until - Date.now()))));
  }
  return progress;
}
