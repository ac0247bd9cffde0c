/**
 * Warm-up of this thread's preprocessing path: a few full runs on a small JPEG (decode, overview +
 * 2 slices, normalise), so the first requests run optimised code. V8 tiers a WebAssembly function
 * up to TurboFan only between calls (no on-stack replacement), so a first 12 MP resize would
 * otherwise run all of its ~1 G instructions in baseline (Liftoff) code, and the JS around it
 * (weights, sharp's wrapper) interpreted. ~9 runs of ~5 ms. The preprocessing workers run it before
 * `ready`; PreprocessPool.ready() runs it on the caller's thread too when small images run there.
 */
import sharp from 'sharp';
import { loadJpegDecoder } from './jpeg-sync.js';
import { DEFAULT_IMAGE_LIMITS } from './limits.js';
import { threadResizer } from './pil-resize.js';
import { preparePixels } from './preprocess.js';
import { DEFAULT_NORMALIZATION } from './preprocessor-config.js';

export async function warmUpPreprocessing(runs = 8): Promise<void> {
  const [w, h] = [640, 480];
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i % 1920) ^ (i >> 11);
  const jpeg = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg().toBuffer();
  // Small JPEGs decode in wasm on this thread (jpeg-sync.ts): load it first so the runs below tier it up too.
  await loadJpegDecoder();
  // The resize helper thread starts on the first image; wait for it so the warm-up runs use it too.
  await preparePixels(jpeg, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION);
  await threadResizer().helperStarted();
  // Not recycled: a warm-up block would sit in this thread's free list for good (pixel-blocks.ts).
  for (let i = 0; i < runs; i++) await preparePixels(jpeg, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION);
}
