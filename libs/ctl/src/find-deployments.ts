import type { V1Deployment } from '@kubernetes/client-node';
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { Kube } from './kube.js';
import { COMBINED_STAGES_ENV, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_PART_OF, type StageInfo, type StageName, STAGE_NAMES } from './stages.js';

/** Tessera Deployments of one release in the namespace, by stage (the chart's labels, not names). */
export interface ReleaseDeployments {
  release: string;
  byStage: Map<StageName, V1Deployment>;
}

/**
 * Lists the namespace's Tessera Deployments and picks one release: --release when given, otherwise the
 * only one present (several releases in one namespace need --release to say which).
 */
export async function findRelease(kube: Kube, release: string | undefined): Promise<ReleaseDeployments> {
  const selector = [`${LABEL_PART_OF}=tessera`, ...(release ? [`${LABEL_INSTANCE}=${release}`] : [])].join(',');
  const list = await kube.call(`list deployments in namespace "${kube.namespace}"`, () =>
    kube.apps.listNamespacedDeployment({ namespace: kube.namespace, labelSelector: selector }),
  );
  const releases = [...new Set(list.items.map((d) => d.metadata?.labels?.[LABEL_INSTANCE] ?? ''))].filter(Boolean).sort();
  if (releases.length === 0) {
    throw new TesseraError(
      ErrorCode.NOT_FOUND,
      `no Tessera deployments${release ? ` of release "${release}"` : ''} in namespace "${kube.namespace}" (selector ${selector}); pass -n NAMESPACE or --release NAME`,
      { field: release ? 'release' : 'namespace' },
    );
  }
  if (releases.length > 1) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `namespace "${kube.namespace}" holds several Tessera releases (${releases.join(', ')}): pass --release NAME`, { field: 'release' });
  }
  const byStage = new Map<StageName, V1Deployment>();
  for (const d of list.items) {
    const component = d.metadata?.labels?.[LABEL_COMPONENT] as StageName | undefined;
    if (component && (STAGE_NAMES as readonly string[]).includes(component)) byStage.set(component, d);
  }
  return { release: releases[0]!, byStage };
}

/** The stages a combined Deployment runs: its container's TESSERA_STAGES (what services/combined reads). */
export function combinedStages(d: V1Deployment | undefined): StageName[] {
  const value = d?.spec?.template?.spec?.containers?.[0]?.env?.find((e) => e.name === COMBINED_STAGES_ENV)?.value ?? '';
  return value.split(',').filter((s): s is StageName => (STAGE_NAMES as readonly string[]).includes(s));
}

/** The Deployment of one stage; NOT_FOUND when the release does not deploy it. */
export async function findStage(kube: Kube, release: string | undefined, stage: StageInfo): Promise<{ release: string; deployment: V1Deployment; name: string }> {
  const found = await findRelease(kube, release);
  const deployment = found.byStage.get(stage.name);
  const combined = found.byStage.get('combined');
  if (!deployment && combined?.metadata?.name && combinedStages(combined).includes(stage.name)) {
    throw new TesseraError(ErrorCode.NOT_FOUND, `${stage.name} runs inside ${combined.metadata.name} with ${combinedStages(combined).join(', ')} (combined.enabled): use STAGE combined`, { field: 'STAGE' });
  }
  if (!deployment?.metadata?.name) {
    throw new TesseraError(ErrorCode.NOT_FOUND, `release "${found.release}" has no ${stage.name} deployment in namespace "${kube.namespace}" (services.${stage.name}.enabled=false?)`, { field: 'STAGE' });
  }
  return { release: found.release, deployment, name: deployment.metadata.name };
}
