/**
 * Wiring: each stage's own compose (model, NATS connection as the stage's user, service
 * implementation, work-queue binding), exactly as its standalone main.ts calls it. Nothing here is
 * shared between stages but the process: each keeps its connection, queue group, subjects and gRPC
 * port, so the rest of the platform cannot tell a combined stage from a standalone one.
 */
import { composeDecoder } from '@tessera/decoder';
import { composeResampler } from '@tessera/resampler';
import { composeSlicer } from '@tessera/slicer';
import type { CommonConfig, ServiceComposition } from '@tessera/runtime';
import type { StageConfigs } from './config.js';
import type { StageName } from './stage-env.js';

export interface ComposedStage {
  config: CommonConfig;
  composition: ServiceComposition;
}

const COMPOSERS: { [S in StageName]: (config: NonNullable<StageConfigs[S]>) => Promise<ServiceComposition> } = {
  slicer: composeSlicer,
  resampler: composeResampler,
  decoder: composeDecoder,
};

export async function composeStage<S extends StageName>(stage: S, configs: StageConfigs): Promise<ComposedStage> {
  const config = configs[stage] as NonNullable<StageConfigs[S]> | undefined;
  if (!config) throw new Error(`stage ${stage} is not configured (TESSERA_STAGES)`);
  return { config, composition: await COMPOSERS[stage](config) };
}
