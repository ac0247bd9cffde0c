/**
 * Model → SliceEncoder: opens the vision stage, reads normalisation and slicing defaults from the
 * model's preprocessor_config.json (falling back to the manifest), and applies the configured limits.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMiniCPMV46Dir, openModel, openVision46, type Manifest, type Model, type RuntimeOptions } from '@tessera/model';
import { familySliceOptions, parsePreprocessorConfig, type ImageLimits, type SlicingFamily, type TokenMode } from '@tessera/vision';
import { SliceEncoder, type VisionEncoder } from '../domain/slice-encoder.js';

export interface OpenedSlicer {
  model: Model;
  encoder: SliceEncoder;
  queryNum: number;
  useImageId: boolean;
}

export interface SlicerOpenOptions {
  runtime: RuntimeOptions;
  limits: ImageLimits;
  batchWindowMs: number;
  maxBatch: number;
  preprocessWorkers: number;
  /** PNG/JPEG images up to this many pixels are prepared inline (PreprocessPool; default DEFAULT_INLINE_MAX_PIXELS). */
  preprocessInlineMaxPixels?: number;
}

/** What the slicer process needs of any family's model. */
export interface OpenedAnySlicer {
  family: SlicingFamily;
  model: { manifest: Pick<Manifest, 'revision'>; release(): Promise<void> };
  encoder: SliceEncoder;
  /** Resampler queries per image (2.6: 64); 0 for a family without a resampler. */
  queryNum: number;
  useImageId: boolean;
}

/** Dispatches on the model directory's family (config.json model_type). */
export async function openAnySlicer(modelDir: string, o: SlicerOpenOptions): Promise<OpenedAnySlicer> {
  return isMiniCPMV46Dir(modelDir) ? openSlicer46(modelDir, o) : { family: '2.6', ...(await openSlicer(modelDir, o)) };
}

/**
 * MiniCPM-V 4.6: only the vision stage is opened (one session serves both token modes); slices are
 * snapped to 56 px and the "features" are the merger output, i.e. the visual tokens themselves.
 */
export async function openSlicer46(modelDir: string, o: SlicerOpenOptions): Promise<OpenedAnySlicer> {
  const v = openVision46(modelDir, o.runtime);
  await v.vision.session.load();
  const pp = readPreprocessorConfig(modelDir);
  const unit = (mode: TokenMode) => v.config.vision.patchSize * (mode === '16x' ? 4 : 2);
  const encoderFor = (mode: TokenMode): VisionEncoder => ({
    hiddenSize: v.config.llmHiddenSize,
    encodeSlices: async (crops) => {
      const out = await v.vision.encodeCrops(crops, mode);
      return out.map((features, i) => ({ tgtSize: [crops[i].height / unit(mode), crops[i].width / unit(mode)] as [number, number], features }));
    },
  });
  const defaults = {
    ...pp.slice,
    resizeUnit: familySliceOptions('4.6').resizeUnit,
    maxSliceNums: Math.min(pp.slice.maxSliceNums, o.limits.maxSliceNums),
    patchSize: v.config.vision.patchSize,
    downsampleMode: v.config.defaultMode,
  };
  const settings = { limits: o.limits, normalization: pp.normalization, defaults, batchWindowMs: o.batchWindowMs, maxBatch: o.maxBatch, preprocessWorkers: o.preprocessWorkers, preprocessInlineMaxPixels: o.preprocessInlineMaxPixels, family: '4.6' as const };
  const encoder = new SliceEncoder(encoderFor(v.config.defaultMode), settings, Object.fromEntries(v.config.modes.map((m) => [m, encoderFor(m)])));
  await encoder.pool.ready();
  const useImageId = v.raw.use_image_id === undefined ? true : v.raw.use_image_id === true;
  return { family: '4.6', model: { manifest: v.manifest, release: v.release }, encoder, queryNum: 0, useImageId };
}

function readPreprocessorConfig(modelDir: string) {
  const ppPath = join(modelDir, 'preprocessor_config.json');
  return parsePreprocessorConfig(existsSync(ppPath) ? (JSON.parse(readFileSync(ppPath, 'utf8')) as Record<string, unknown>) : {});
}

export async function openSlicer(modelDir: string, o: SlicerOpenOptions): Promise<OpenedSlicer> {
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
  const encoder = new SliceEncoder(model.vision, { limits: o.limits, normalization: pp.normalization, defaults, batchWindowMs: o.batchWindowMs, maxBatch: o.maxBatch, preprocessWorkers: o.preprocessWorkers, preprocessInlineMaxPixels: o.preprocessInlineMaxPixels });
  await encoder.pool.ready();
  return { model, encoder, queryNum: m.resampler.queryNum, useImageId: m.useImageId };
}
