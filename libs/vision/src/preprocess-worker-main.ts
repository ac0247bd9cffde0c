/**
 * Worker-thread body of PreprocessPool: decode + slice + resize off the event loop (a 12 MP image is
 * ~0.5–1 s of pure JS resizing that would otherwise stall gRPC/NATS I/O and job heartbeats).
 */
import { parentPort } from 'node:worker_threads';
import { TesseraError } from '@tessera/runtime';
import type { ImageLimits } from './limits.js';
import { toChannelFirst } from './patch-strip.js';
import type { Normalization } from './preprocessor-config.js';
import { prepareImage } from './preprocess.js';
import type { SliceOptions } from './slice-plan.js';

export interface PreprocessJob {
  id: number;
  bytes: Uint8Array;
  options: Partial<SliceOptions>;
  limits: ImageLimits;
  /** When set, also return normalised channel-first float32 pixels per image (and drop the RGB). */
  normalization?: Normalization;
}

parentPort!.on('message', async (job: PreprocessJob) => {
  try {
    const p = await prepareImage(job.bytes, job.options, job.limits);
    const norm = job.normalization;
    const pixels = norm ? p.images.map((im) => toChannelFirst(im.rgb, im.width, im.height, norm)) : undefined;
    const images = p.images.map((im) => ({ width: im.width, height: im.height, rgb: norm ? new Uint8Array(0) : im.rgb }));
    const transfer = pixels ? pixels.map((x) => x.buffer as ArrayBuffer) : images.map((im) => im.rgb.buffer as ArrayBuffer);
    parentPort!.postMessage({ id: job.id, ok: true, result: { sha256: p.sha256, format: p.format, plan: p.plan, images, pixels } }, transfer);
  } catch (err) {
    const e = TesseraError.from(err);
    parentPort!.postMessage({ id: job.id, ok: false, error: { code: e.code, message: e.code === 'INTERNAL' && err instanceof Error ? err.message : e.message, details: e.details } });
  }
});

// Tells the pool this worker has loaded its modules (startup is seconds on a busy machine).
parentPort!.postMessage({ ready: true });
