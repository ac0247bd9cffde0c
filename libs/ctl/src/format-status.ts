import { describeAutoscaler } from './autoscalers.js';
import type { ClusterStatus } from './status.js';
import { renderTable } from './table.js';

/** `tessera ctl status` as tables: stages, then the GPU pool, then warnings. */
export function formatStatus(s: ClusterStatus, wide = false): string {
  const out: string[] = [`context ${s.context}   namespace ${s.namespace}   release ${s.release}`, ''];
  out.push(
    renderTable(
      ['STAGE', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AUTOSCALER', 'BACKLOG', 'MODEL-REVISION', ...(wide ? ['IMAGES', 'NODES'] : [])],
      s.stages.map((st) => {
        const revs = Object.entries(st.podRevisions);
        const mixed = revs.length > 1 || (revs.length === 1 && revs[0]![0] !== st.modelRevision);
        const model = st.modelRevision === null ? '-' : mixed ? `${st.modelRevision} (pods: ${revs.map(([r, n]) => `${r}x${n}`).join(', ')})` : st.modelRevision;
        const backlog = st.backlog ? `${st.backlog.lag}${st.backlog.redelivered ? ` (${st.backlog.redelivered} redelivered)` : ''}` : '-';
        const row = [st.stage, `${st.ready}/${st.desired}`, String(st.updated), String(st.available), describeAutoscaler(st.autoscaler), backlog, model];
        return wide ? [...row, st.images.join(',') || '-', st.nodes.join(',') || '-'] : row;
      }),
    ),
  );
  out.push('');
  if (s.gpuNodes) {
    out.push(`GPU pool: ${s.gpuTotals!.nodes} node(s), ${s.gpuTotals!.allocatable} allocatable GPU(s) on ready, schedulable nodes; ${s.gpusRequestedByRelease} requested by release ${s.release}`);
    // Time-sliced or MIG resources the release requests besides the whole-GPU one.
    const shared = s.gpuResources.slice(1).filter((r) => r.requested > 0);
    if (shared.length > 0) out.push(`shared GPU resources: ${shared.map((r) => `${r.resource} ${r.requested} requested, ${r.allocatable ?? '?'} allocatable`).join('; ')}`);
    if (s.gpuNodes.length > 0) {
      out.push(renderTable(['NODE', 'READY', 'SCHEDULABLE', 'GPU-ALLOCATABLE', 'GPU-CAPACITY'], s.gpuNodes.map((n) => [n.name, String(n.ready), String(n.schedulable), String(n.allocatableGpus), String(n.capacityGpus)])));
    }
  }
  for (const w of s.warnings) out.push(`warning: ${w}`);
  return out.join('\n');
}
