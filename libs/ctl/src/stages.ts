import { invalidArgument } from '@tessera/errors';

/** What the operator CLI knows about each Tessera service (the chart's catalog, CONTRIBUTING.md names). */
export interface StageInfo {
  readonly name: StageName;
  /** Runs on the GPU pool (when the chart's executionProvider is cuda). */
  readonly gpu: boolean;
  /** JetStream work stream and durable pull consumer, for the GPU stages. */
  readonly stream?: string;
  readonly consumer?: string;
}

export const STAGE_NAMES = ['gateway', 'slicer', 'resampler', 'decoder', 'retrieval', 'feedback', 'combined'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export const STAGES: Readonly<Record<StageName, StageInfo>> = Object.freeze({
  gateway: { name: 'gateway', gpu: false },
  slicer: { name: 'slicer', gpu: true, stream: 'TESSERA_SLICER', consumer: 'slicer-workers' },
  resampler: { name: 'resampler', gpu: true, stream: 'TESSERA_RESAMPLER', consumer: 'resampler-workers' },
  decoder: { name: 'decoder', gpu: true, stream: 'TESSERA_DECODER', consumer: 'decoder-workers' },
  retrieval: { name: 'retrieval', gpu: false },
  feedback: { name: 'feedback', gpu: false },
  // The chart's combined pod (combined.enabled, services/combined): the GPU stages its container's
  // TESSERA_STAGES names run in one process; its backlog is theirs together.
  combined: { name: 'combined', gpu: true },
});

/** Env variable naming the stages of the combined pod (services/combined). */
export const COMBINED_STAGES_ENV = 'TESSERA_STAGES';

/** Labels and annotations the chart sets (helm/tessera/templates). */
export const LABEL_PART_OF = 'app.kubernetes.io/part-of';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const ANNOTATION_MODEL_REVISION = 'tessera.dev/model-revision';
export const ANNOTATION_RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
export const ANNOTATION_KEDA_PAUSED_REPLICAS = 'autoscaling.keda.sh/paused-replicas';
/** Where `autoscale pause` keeps an HPA's own bounds while it pins min = max. */
export const ANNOTATION_HPA_PAUSED_MIN = 'tessera.dev/paused-min-replicas';
export const ANNOTATION_HPA_PAUSED_MAX = 'tessera.dev/paused-max-replicas';

export function parseStage(value: string | undefined): StageInfo {
  if (!value) throw invalidArgument('STAGE', `missing STAGE: expected one of ${STAGE_NAMES.join(', ')}`);
  if (!(STAGE_NAMES as readonly string[]).includes(value)) {
    throw invalidArgument('STAGE', `unknown stage "${value}": expected one of ${STAGE_NAMES.join(', ')}`);
  }
  return STAGES[value as StageName];
}
