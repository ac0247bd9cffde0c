/**
 * Model → SliceEncoder: opens the vision stage, reads normalisation and slicing defaults from the
 * model's preprocessor_config.json (falling back to the manifest), and applies the configured limits.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openModel, type Model, type RuntimeOptions } from '@tessera/model';
import { parsePreprocessorConfig, type ImageLimits } from '@tessera/vision';
import { SliceEncoder } from './slice-encoder.js';

export interface OpenedSlicer {
  model: Model;
  encoder: SliceEncoder;
  queryNum: number;
  useImageId: boolean;
}

export async function openSlicer(
  modelDir: string,
  o: { runtime: RuntimeOptions; limits: ImageLimits; batchWindowMs: number; maxBatch: number; preprocessWorkers: number },
): Promise<OpenedSlicer> {
  const model = await openModel(modelDir, o.runtime);
  await model.load(['vision']);
  const ppPath = join(modelDir, 'preprocessor_config.json');
  const pp = parsePreprocessorConfig(existsSync(ppPath) ? (JSON.parse(readFileSync(ppPath, 'utf8')) as Record<string, unknown>) : {});
  const m = model.manifest.config;
  const defaults = {
    ...pp.slice,
    maxSliceNums: Math.min(pp.slice.maxSliceNums ?? m.maxSliceNums, o.limits.maxSliceNums),
    patchSize: m.vision.patchSize,
  };
  const encoder = new SliceEncoder(model.vision, { limits: o.limits, normalization: pp.normalization, defaults, batchWindowMs: o.batchWindowMs, maxBatch: o.maxBatch, preprocessWorkers: o.preprocessWorkers });
  await encoder.pool.ready();
  return { model, encoder, queryNum: m.resampler.queryNum, useImageId: m.useImageId };
}
