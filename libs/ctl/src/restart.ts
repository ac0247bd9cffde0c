import { findStage } from './find-deployments.js';
import { type Kube, mergePatch } from './kube.js';
import { ANNOTATION_RESTARTED_AT, type StageInfo } from './stages.js';

export interface RestartResult {
  stage: string;
  deployment: string;
  restartedAt: string;
  replicas: number;
}

/**
 * `kubectl rollout restart`: a new pod-template annotation makes the Deployment roll every pod under
 * its update strategy (GPU stages: maxSurge 0, one at a time).
 */
export async function restartStage(kube: Kube, release: string | undefined, stage: StageInfo, now: Date = new Date()): Promise<RestartResult> {
  const { name, deployment } = await findStage(kube, release, stage);
  const restartedAt = now.toISOString();
  const body = { spec: { template: { metadata: { annotations: { [ANNOTATION_RESTARTED_AT]: restartedAt } } } } };
  await kube.call(`restart deployment "${name}"`, () => kube.apps.patchNamespacedDeployment({ name, namespace: kube.namespace, body }, mergePatch()));
  return { stage: stage.name, deployment: name, restartedAt, replicas: deployment.spec?.replicas ?? 0 };
}
