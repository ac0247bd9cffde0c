/** Model directory → ResampleBatcher over the resampler stage. */
import { openModel, type Model, type RuntimeOptions } from '@tessera/model';
import { ResampleBatcher } from '../domain/resample-batcher.js';

export interface OpenedResampler {
  model: Model;
  batcher: ResampleBatcher;
  visionHidden: number;
  /** MiniCPM-V 4.5: the 3D resampler (temporal ids) applies. */
  temporal: boolean;
}

export async function openResampler(modelDir: string, o: { runtime: RuntimeOptions; batchWindowMs: number; maxBatch: number }): Promise<OpenedResampler> {
  const model = await openModel(modelDir, o.runtime);
  await model.load(['resampler']);
  return { model, batcher: new ResampleBatcher(model.resampler, { windowMs: o.batchWindowMs, maxBatch: o.maxBatch }), visionHidden: model.manifest.config.vision.hiddenSize, temporal: model.manifest.family === '4.5' };
}
