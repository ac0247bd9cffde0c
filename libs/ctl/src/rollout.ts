import type { V1Deployment, V1PodTemplateSpec, V1ReplicaSet } from '@kubernetes/client-node';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { findStage } from './find-deployments.js';
import { type Kube, mergePatch } from './kube.js';
import type { StageInfo } from './stages.js';

/** The annotation the Deployment controller numbers ReplicaSets (and the Deployment) with. */
export const ANNOTATION_REVISION = 'deployment.kubernetes.io/revision';

export interface RolloutState {
  stage: string;
  deployment: string;
  revision: number;
  desired: number;
  updated: number;
  ready: number;
  available: number;
  /** done: rolled out; progressing: still moving; failed: past progressDeadlineSeconds. */
  phase: 'done' | 'progressing' | 'failed';
  message: string;
}

/** kubectl's rollout-status rules (DeploymentStatusViewer), one snapshot. */
export function rolloutState(stage: string, d: V1Deployment): RolloutState {
  const name = d.metadata?.name ?? '';
  const s = d.status ?? {};
  const desired = d.spec?.replicas ?? 1;
  const updated = s.updatedReplicas ?? 0;
  const base = { stage, deployment: name, revision: Number(d.metadata?.annotations?.[ANNOTATION_REVISION] ?? 0), desired, updated, ready: s.readyReplicas ?? 0, available: s.availableReplicas ?? 0 };
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if ((d.metadata?.generation ?? 0) > (s.observedGeneration ?? 0)) return { ...base, phase: 'progressing', message: `waiting for deployment spec update to be observed` };
  if (progressing?.reason === 'ProgressDeadlineExceeded') return { ...base, phase: 'failed', message: `deployment "${name}" exceeded its progress deadline: ${progressing.message ?? ''}`.trim() };
  if (updated < desired) return { ...base, phase: 'progressing', message: `${updated} of ${desired} new replicas updated` };
  if ((s.replicas ?? 0) > updated) return { ...base, phase: 'progressing', message: `${(s.replicas ?? 0) - updated} old replicas pending termination` };
  if (base.available < updated) return { ...base, phase: 'progressing', message: `${base.available} of ${updated} updated replicas available` };
  return { ...base, phase: 'done', message: `deployment "${name}" successfully rolled out` };
}

/**
 * `kubectl rollout status`: polls until the rollout is done (exit 0), failed its progress deadline, or
 * `timeoutMs` passed (both exit 1). `onProgress` sees each new message; `watch: false` reports once.
 */
export async function rolloutStatus(
  kube: Kube,
  release: string | undefined,
  stage: StageInfo,
  o: { timeoutMs: number; intervalMs?: number; watch: boolean; onProgress?: (s: RolloutState) => void },
): Promise<RolloutState> {
  const until = Date.now() + o.timeoutMs;
  let last = '';
  for (;;) {
    const { deployment } = await findStage(kube, release, stage);
    const st = rolloutState(stage.name, deployment);
    if (st.message !== last) o.onProgress?.(st);
    last = st.message;
    if (st.phase === 'failed') throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `${stage.name}: ${st.message}`, { field: 'STAGE' });
    if (st.phase === 'done' || !o.watch) return st;
    if (Date.now() >= until) throw new TesseraError(ErrorCode.DEADLINE_EXCEEDED, `${stage.name}: rollout not finished within ${o.timeoutMs} ms (${st.message})`, { field: 'timeout', limit: `${o.timeoutMs} ms` });
    await new Promise((r) => setTimeout(r, Math.min(o.intervalMs ?? 2000, Math.max(0, until - Date.now()))));
  }
}

export interface UndoResult {
  stage: string;
  deployment: string;
  from: number;
  to: number;
  /** The model revision annotation of the restored template, when the chart set one. */
  modelRevision: string | null;
}

/**
 * `kubectl rollout undo [--to-revision N]`: the Deployment's pod template becomes the one of its
 * ReplicaSet with revision N (default: the newest below the current). A merge patch that also nulls
 * what the restored template lacks, so it replaces rather than merges (a restartedAt annotation of
 * the current template must not survive).
 */
export async function rolloutUndo(kube: Kube, release: string | undefined, stage: StageInfo, toRevision?: number): Promise<UndoResult> {
  const { name, deployment } = await findStage(kube, release, stage);
  const uid = deployment.metadata?.uid;
  const selector = Object.entries(deployment.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  const list = await kube.call(`list replicasets of deployment "${name}"`, () => kube.apps.listNamespacedReplicaSet({ namespace: kube.namespace, labelSelector: selector }));
  const owned = list.items.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && (o.uid === uid || o.name === name)));
  const rev = (rs: V1ReplicaSet) => Number(rs.metadata?.annotations?.[ANNOTATION_REVISION] ?? 0);
  const current = Number(deployment.metadata?.annotations?.[ANNOTATION_REVISION] ?? Math.max(0, ...owned.map(rev)));
  const known = owned.map(rev).sort((a, b) => a - b);
  const target = toRevision !== undefined ? owned.find((rs) => rev(rs) === toRevision) : owned.filter((rs) => rev(rs) < current).sort((a, b) => rev(b) - rev(a))[0];
  if (!target) {
    const what = toRevision !== undefined ? `revision ${toRevision}` : `a revision before ${current}`;
    throw new TesseraError(ErrorCode.NOT_FOUND, `${stage.name}: deployment "${name}" has no ${what} to roll back to (revisions kept: ${known.join(', ') || 'none'}; revisionHistoryLimit bounds them)`, { field: toRevision !== undefined ? 'to-revision' : 'STAGE' });
  }
  if (rev(target) === current) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${stage.name}: revision ${current} is the current one`, { field: 'to-revision' });
  const restored: V1PodTemplateSpec = structuredClone(target.spec!.template!);
  delete restored.metadata?.labels?.['pod-template-hash'];
  const body = { spec: { template: replacingPatch(deployment.spec?.template, restored) } };
  await kube.call(`roll back deployment "${name}"`, () => kube.apps.patchNamespacedDeployment({ name, namespace: kube.namespace, body }, mergePatch()));
  return { stage: stage.name, deployment: name, from: current, to: rev(target), modelRevision: restored.metadata?.annotations?.['tessera.dev/model-revision'] ?? null };
}

/** A JSON merge patch turning `from` into `to`: keys `to` lacks become null; arrays and scalars are replaced. */
export function replacingPatch(from: unknown, to: unknown): unknown {
  if (!isObject(from) || !isObject(to)) return to ?? null;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to)) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (JSON.stringify(from[k]) === JSON.stringify(v)) continue;
    out[k] = replacingPatch(from[k], v);
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
