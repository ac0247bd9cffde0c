import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { Kube } from './kube.js';
import { isNotFound } from './kube-errors.js';
import { ANNOTATION_HPA_PAUSED_MAX, ANNOTATION_KEDA_PAUSED_REPLICAS } from './stages.js';

/** The subset of a KEDA ScaledObject the CLI reads. */
export interface ScaledObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: { scaleTargetRef?: { name?: string }; minReplicaCount?: number; maxReplicaCount?: number; triggers?: Array<{ type?: string; metadata?: Record<string, string> }> };
}

export const KEDA = { group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects' } as const;

/** Who sets a Deployment's replicas: a KEDA ScaledObject, an HPA, or nobody. */
export type Autoscaler =
  | { kind: 'keda'; name: string; min: number; max: number; pausedReplicas?: number }
  | { kind: 'hpa'; name: string; min: number; max: number; paused: boolean }
  | { kind: 'none' };

export function describeAutoscaler(a: Autoscaler): string {
  if (a.kind === 'none') return '-';
  const range = `${a.min}-${a.max}`;
  if (a.kind === 'keda') return a.pausedReplicas !== undefined ? `keda paused@${a.pausedReplicas}` : `keda ${range}`;
  return a.paused ? `hpa paused@${a.min}` : `hpa ${range}`;
}

export function fromScaledObject(so: ScaledObject): Autoscaler {
  const paused = so.metadata?.annotations?.[ANNOTATION_KEDA_PAUSED_REPLICAS];
  return {
    kind: 'keda',
    name: so.metadata?.name ?? '',
    min: so.spec?.minReplicaCount ?? 0,
    max: so.spec?.maxReplicaCount ?? 100,
    ...(paused !== undefined && { pausedReplicas: Number(paused) }),
  };
}

export function fromHpa(hpa: V2HorizontalPodAutoscaler): Autoscaler {
  return {
    kind: 'hpa',
    name: hpa.metadata?.name ?? '',
    min: hpa.spec?.minReplicas ?? 1,
    max: hpa.spec?.maxReplicas ?? 1,
    paused: hpa.metadata?.annotations?.[ANNOTATION_HPA_PAUSED_MAX] !== undefined,
  };
}

/**
 * Every autoscaler in the namespace keyed by the Deployment it targets. A cluster without KEDA
 * answers 404 for scaledobjects: that means "no ScaledObjects", not an error.
 */
export async function listAutoscalers(kube: Kube, seen?: (so: ScaledObject) => void): Promise<Map<string, Autoscaler>> {
  const out = new Map<string, Autoscaler>();
  const hpas = await kube.call(`list horizontalpodautoscalers in namespace "${kube.namespace}"`, () =>
    kube.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: kube.namespace }),
  );
  for (const h of hpas.items) if (h.spec?.scaleTargetRef?.name) out.set(h.spec.scaleTargetRef.name, fromHpa(h));
  try {
    const sos = (await kube.call(`list scaledobjects in namespace "${kube.namespace}"`, () =>
      kube.custom.listNamespacedCustomObject({ ...KEDA, namespace: kube.namespace }),
    )) as { items?: ScaledObject[] };
    // A ScaledObject creates its own HPA (keda-hpa-<name>) on the same target: KEDA wins the entry.
    for (const so of sos.items ?? []) {
      seen?.(so);
      if (so.spec?.scaleTargetRef?.name) out.set(so.spec.scaleTargetRef.name, fromScaledObject(so));
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return out;
}

/** The autoscaler of one Deployment (the chart names it like the Deployment). */
export async function getAutoscaler(kube: Kube, deployment: string): Promise<Autoscaler> {
  try {
    const so = (await kube.call(`get scaledobject "${deployment}"`, () =>
      kube.custom.getNamespacedCustomObject({ ...KEDA, namespace: kube.namespace, name: deployment }),
    )) as ScaledObject;
    return fromScaledObject(so);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    const hpa = await kube.call(`get horizontalpodautoscaler "${deployment}"`, () =>
      kube.autoscaling.readNamespacedHorizontalPodAutoscaler({ namespace: kube.namespace, name: deployment }),
    );
    return fromHpa(hpa);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return { kind: 'none' };
}
