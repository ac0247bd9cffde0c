import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { getAutoscaler, describeAutoscaler, type Autoscaler } from './autoscalers.js';
import { findStage } from './find-deployments.js';
import type { Kube } from './kube.js';
import { rolloutState, type RolloutState } from './rollout.js';
import { ANNOTATION_MODEL_REVISION, type StageInfo } from './stages.js';
import { renderTable } from './table.js';

export interface StageDescription {
  stage: string;
  deployment: string;
  rollout: RolloutState;
  autoscaler: Autoscaler;
  modelRevision: string | null;
  images: string[];
  /** Per-pod resource limits of the main container (GPU count included). */
  limits: Record<string, string>;
  conditions: { type: string; status: string; reason: string; message: string }[];
  pods: { name: string; phase: string; ready: string; restarts: number; node: string; ip: string; modelRevision: string | null }[];
  /** Events of the Deployment, its ReplicaSets, pods and autoscaler, oldest first (kubectl describe's order). */
  events: { type: string; reason: string; object: string; count: number; lastSeen: string; message: string }[];
}

/** `kubectl describe deployment` for one stage, plus its pods and the events that explain them. */
export async function describeStage(kube: Kube, release: string | undefined, stage: StageInfo): Promise<StageDescription> {
  const { name, deployment: d } = await findStage(kube, release, stage);
  const selector = Object.entries(d.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  const [pods, events, autoscaler] = await Promise.all([
    kube.call(`list pods of deployment "${name}"`, () => kube.core.listNamespacedPod({ namespace: kube.namespace, labelSelector: selector })),
    kube.call(`list events in namespace "${kube.namespace}"`, () => kube.core.listNamespacedEvent({ namespace: kube.namespace })),
    getAutoscaler(kube, name),
  ]);
  const podNames = new Set(pods.items.map((p) => p.metadata?.name ?? ''));
  // ReplicaSets are named <deployment>-<hash>; the KEDA HPA keda-hpa-<name>.
  const mine = (e: CoreV1Event) => {
    const n = e.involvedObject?.name ?? '';
    return n === name || podNames.has(n) || n.startsWith(`${name}-`) || n === `keda-hpa-${name}`;
  };
  const main = d.spec?.template?.spec?.containers?.[0];
  const when = (e: CoreV1Event) => {
    const t: unknown = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
    return t instanceof Date ? t.toISOString() : String(t ?? '');
  };
  return {
    stage: stage.name,
    deployment: name,
    rollout: rolloutState(stage.name, d),
    autoscaler,
    modelRevision: d.spec?.template?.metadata?.annotations?.[ANNOTATION_MODEL_REVISION] ?? null,
    images: (d.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? ''),
    limits: Object.fromEntries(Object.entries(main?.resources?.limits ?? {}).map(([k, v]) => [k, String(v)])),
    conditions: (d.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason ?? '', message: c.message ?? '' })),
    pods: pods.items.map(podRow),
    events: events.items
      .filter(mine)
      .map((e) => ({ type: e.type ?? '', reason: e.reason ?? '', object: `${(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`, count: e.count ?? 1, lastSeen: when(e), message: e.message ?? '' }))
      .sort((a, b) => a.lastSeen.localeCompare(b.lastSeen)),
  };
}

function podRow(p: V1Pod): StageDescription['pods'][number] {
  const statuses = p.status?.containerStatuses ?? [];
  const ready = statuses.length ? `${statuses.filter((c) => c.ready).length}/${statuses.length}` : p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? '1/1' : '0/1';
  return {
    name: p.metadata?.name ?? '',
    phase: p.status?.phase ?? 'Unknown',
    ready,
    restarts: statuses.reduce((n, c) => n + (c.restartCount ?? 0), 0),
    node: p.spec?.nodeName ?? '',
    ip: p.status?.podIP ?? '',
    modelRevision: p.metadata?.annotations?.[ANNOTATION_MODEL_REVISION] ?? null,
  };
}

export function formatDescription(s: StageDescription): string {
  const out = [
    `Stage:            ${s.stage}`,
    `Deployment:       ${s.deployment} (revision ${s.rollout.revision})`,
    `Replicas:         ${s.rollout.desired} desired | ${s.rollout.updated} updated | ${s.rollout.ready} ready | ${s.rollout.available} available`,
    `Rollout:          ${s.rollout.phase}: ${s.rollout.message}`,
    `Autoscaler:       ${describeAutoscaler(s.autoscaler)}`,
    `Model revision:   ${s.modelRevision ?? '-'}`,
    `Images:           ${s.images.join(', ')}`,
    `Limits:           ${Object.entries(s.limits).map(([k, v]) => `${k}=${v}`).join(', ') || '-'}`,
  ];
  if (s.conditions.length) out.push('', 'Conditions:', renderTable(['TYPE', 'STATUS', 'REASON'], s.conditions.map((c) => [c.type, c.status, c.reason])));
  out.push('', 'Pods:', s.pods.length ? renderTable(['NAME', 'READY', 'STATUS', 'RESTARTS', 'NODE', 'IP', 'MODEL-REVISION'], s.pods.map((p) => [p.name, p.ready, p.phase, String(p.restarts), p.node || '<none>', p.ip || '<none>', p.modelRevision ?? '-'])) : '  <none>');
  out.push('', 'Events:', s.events.length ? renderTable(['TYPE', 'REASON', 'OBJECT', 'COUNT', 'LAST-SEEN', 'MESSAGE'], s.events.map((e) => [e.type, e.reason, e.object, String(e.count), e.lastSeen, e.message])) : '  <none>');
  return out.join('\n');
}
