import { describeAutoscaler, getAutoscaler } from './autoscalers.js';
import { findStage } from './find-deployments.js';
import { type Kube, mergePatch } from './kube.js';
import type { StageInfo } from './stages.js';

export interface ScaleResult {
  stage: string;
  deployment: string;
  previous: number;
  replicas: number;
  warnings: string[];
}

/** Sets a stage's replicas through the Deployment's scale subresource (what `kubectl scale` does). */
export async function scaleStage(kube: Kube, release: string | undefined, stage: StageInfo, replicas: number): Promise<ScaleResult> {
  const { name, deployment } = await findStage(kube, release, stage);
  const autoscaler = await getAutoscaler(kube, name);
  const scale = await kube.call(`scale deployment "${name}"`, () =>
    kube.apps.patchNamespacedDeploymentScale({ name, namespace: kube.namespace, body: { spec: { replicas } } }, mergePatch()),
  );
  const warnings: string[] = [];
  const pausedAt = autoscaler.kind === 'keda' ? autoscaler.pausedReplicas : undefined;
  if ((autoscaler.kind === 'keda' && pausedAt === undefined) || (autoscaler.kind === 'hpa' && !autoscaler.paused)) {
    warnings.push(`${stage.name} is autoscaled (${describeAutoscaler(autoscaler)}): it will override this; run "tessera ctl autoscale pause ${stage.name} --replicas ${replicas}" to hold it`);
  } else if (pausedAt !== undefined && pausedAt !== replicas) {
    warnings.push(`${stage.name}'s ScaledObject is paused at ${pausedAt} replicas and KEDA will restore that; run "tessera ctl autoscale pause ${stage.name} --replicas ${replicas}"`);
  }
  return { stage: stage.name, deployment: name, previous: deployment.spec?.replicas ?? 0, replicas: scale.spec?.replicas ?? replicas, warnings };
}
