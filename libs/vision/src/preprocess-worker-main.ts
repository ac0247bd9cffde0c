/**
 * Worker-thread body of PreprocessPool: decode + slice + resize off the event loop (a 12 MP image is
 * ~0.5–1 s of pure JS resizing that would otherwise stall gRPC/NATS I/O and job heartbeats).
 */
import { parentPort } from 'node:worker_threads';
import { TesseraError } from '@tessera/errors';
import type { ImageLimits } from './limits.js';
import type { Normalization } from './preprocessor-config.js';
import { recycleBlock } from './pixel-blocks.js';
import { prepareImage, preparePixels } from './preprocess.js';
import type { SliceOptions, SlicePlan } from './slice-plan.js';
import { warmUpPreprocessing } from './warm-up.js';

export interface PreprocessJob {
  id: number;
  bytes: Uint8Array;
  options: Partial<SliceOptions>;
  limits: ImageLimits;
  /** When set, also return normalised channel-first float32 pixels per image (and drop the RGB). */
  normalization?: Normalization;
  /** The caller's plan (with `normalization`), checked and cut instead of planning again. */
  plan?: SlicePlan;
}

parentPort!.on('message', async (job: PreprocessJob | { recycle: ArrayBuffer }) => {
  if ('recycle' in job) {
    recycleBlock(job.recycle);
    return;
  }
  try {
    const p = job.normalization ? await preparePixels(job.bytes, job.options, job.limits, job.normalization, job.plan) : await prepareImage(job.bytes, job.options, job.limits);
    const pixels = 'pixels' in p ? p.pixels : undefined;
    const images = p.images.map((im) => ({ width: im.width, height: im.height, rgb: im.rgb }));
    // Every buffer is the worker's own (no views into shared memory), so all are transferred — each
    // once: the pixel pieces are views into one block.
    const transfer = [...new Set([...(pixels ?? []).map((x) => x.buffer as ArrayBuffer), ...images.filter((im) => im.rgb.byteLength > 0).map((im) => im.rgb.buffer as ArrayBuffer)])];
    parentPort!.postMessage({ id: job.id, ok: true, result: { ...('sha256' in p && { sha256: p.sha256 }), format: p.format, plan: p.plan, images, pixels } }, transfer);
  } catch (err) {
    const e = TesseraError.from(err);
    parentPort!.postMessage({ id: job.id, ok: false, error: { code: e.code, message: e.code === 'INTERNAL' && err instanceof Error ? err.message : e.message, details: e.details } });
  }
});

// Warm-up (warm-up.ts), then tells the pool this worker has loaded its modules (startup is seconds on
// a busy machine). A failed warm-up only costs speed; the first real request reports its own error.
await warmUpPreprocessing(8, false).catch(() => undefined);
parentPort!.postMessage({ ready: true });
