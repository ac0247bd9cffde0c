import { ErrorCode, TesseraError } from '@tessera/errors';
import { getAutoscaler, KEDA } from './autoscalers.js';
import { findStage } from './find-deployments.js';
import { type Kube, mergePatch } from './kube.js';
import { ANNOTATION_HPA_PAUSED_MAX, ANNOTATION_HPA_PAUSED_MIN, ANNOTATION_KEDA_PAUSED_REPLICAS, type StageInfo } from './stages.js';

export interface AutoscaleResult {
  stage: string;
  autoscaler: 'keda' | 'hpa';
  name: string;
  action: 'paused' | 'resumed' | 'unchanged';
  /** Replicas held while paused. */
  replicas?: number;
  message: string;
}

/**
 * Pause: KEDA gets `autoscaling.keda.sh/paused-replicas` (KEDA scales the target to that count and
 * stops); an HPA, which has no pause, is pinned to min = max = N with its bounds kept in annotations.
 * N is --replicas, else the Deployment's current replicas. Resume undoes either.
 */
export async function setAutoscalePaused(kube: Kube, release: string | undefined, stage: StageInfo, pause: boolean, replicasFlag?: number): Promise<AutoscaleResult> {
  const { name, deployment } = await findStage(kube, release, stage);
  const a = await getAutoscaler(kube, name);
  if (a.kind === 'none') {
    throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `${stage.name} has no autoscaler (no ScaledObject or HorizontalPodAutoscaler "${name}"): use "tessera ctl scale ${stage.name} N"`, { field: 'STAGE' });
  }
  const replicas = replicasFlag ?? deployment.spec?.replicas ?? 0;
  if (a.kind === 'keda') {
    if (!pause && a.pausedReplicas === undefined) return { stage: stage.name, autoscaler: 'keda', name, action: 'unchanged', message: `${stage.name}: ScaledObject ${name} is not paused` };
    const body = { metadata: { annotations: { [ANNOTATION_KEDA_PAUSED_REPLICAS]: pause ? String(replicas) : null } } };
    await kube.call(`${pause ? 'pause' : 'resume'} scaledobject "${name}"`, () =>
      kube.custom.patchNamespacedCustomObject({ ...KEDA, namespace: kube.namespace, name, body }, mergePatch()),
    );
    return pause
      ? { stage: stage.name, autoscaler: 'keda', name, action: 'paused', replicas, message: `${stage.name}: ScaledObject ${name} paused at ${replicas} replica(s)` }
      : { stage: stage.name, autoscaler: 'keda', name, action: 'resumed', message: `${stage.name}: ScaledObject ${name} resumed (${a.min}-${a.max} replicas on consumer lag)` };
  }
  if (pause) {
    if (replicas < 1) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `an HPA cannot hold ${replicas} replicas (minReplicas >= 1): pass --replicas N with N >= 1`, { field: 'replicas', limit: 'replicas >= 1' });
    const annotations = a.paused ? {} : { [ANNOTATION_HPA_PAUSED_MIN]: String(a.min), [ANNOTATION_HPA_PAUSED_MAX]: String(a.max) };
    const body = { metadata: { annotations }, spec: { minReplicas: replicas, maxReplicas: replicas } };
    await kube.call(`pause horizontalpodautoscaler "${name}"`, () =>
      kube.autoscaling.patchNamespacedHorizontalPodAutoscaler({ namespace: kube.namespace, name, body }, mergePatch()),
    );
    return { stage: stage.name, autoscaler: 'hpa', name, action: 'paused', replicas, message: `${stage.name}: HPA ${name} pinned to ${replicas} replica(s) (was ${a.paused ? 'already paused' : `${a.min}-${a.max}`})` };
  }
  if (!a.paused) return { stage: stage.name, autoscaler: 'hpa', name, action: 'unchanged', message: `${stage.name}: HPA ${name} is not paused` };
  const hpa = await kube.call(`get horizontalpodautoscaler "${name}"`, () => kube.autoscaling.readNamespacedHorizontalPodAutoscaler({ namespace: kube.namespace, name }));
  const min = Number(hpa.metadata?.annotations?.[ANNOTATION_HPA_PAUSED_MIN] ?? 1);
  const max = Number(hpa.metadata?.annotations?.[ANNOTATION_HPA_PAUSED_MAX] ?? Math.max(min, 1));
  const body = { metadata: { annotations: { [ANNOTATION_HPA_PAUSED_MIN]: null, [ANNOTATION_HPA_PAUSED_MAX]: null } }, spec: { minReplicas: min, maxReplicas: max } };
  await kube.call(`resume horizontalpodautoscaler "${name}"`, () =>
    kube.autoscaling.patchNamespacedHorizontalPodAutoscaler({ namespace: kube.namespace, name, body }, mergePatch()),
  );
  return { stage: stage.name, autoscaler: 'hpa', name, action: 'resumed', message: `${stage.name}: HPA ${name} resumed (${min}-${max} replicas)` };
}
