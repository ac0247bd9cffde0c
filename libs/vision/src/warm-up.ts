/**
 * Warm-up of this thread's preprocessing path: a few full runs on a small JPEG (decode, overview +
 * 2 slices, normalise), so the first requests run optimised code. V8 tiers a WebAssembly function
 * up to TurboFan only between calls (no on-stack replacement), so a first 12 MP resize would
 * otherwise run all of its ~1 G instructions in baseline (Liftoff) code, and the JS around it
 * (weights, sharp's wrapper) interpreted. ~9 runs of ~5 ms. The preprocessing workers run it before
 * `ready`; PreprocessPool.ready() runs it on the caller's thread too when small images run there.
 */
import sharp from 'sharp';
import { loadJpegDecoder, warmJpegDecoder } from './jpeg-sync.js';
import { DEFAULT_IMAGE_LIMITS, sharpOnly } from './limits.js';
import { decodePngSync } from './png-sync.js';
import { threadResizer } from './pil-resize.js';
import { preparePixels } from './preprocess.js';
import { DEFAULT_NORMALIZATION } from './preprocessor-config.js';

/** `syncDecoders`: this thread decodes small JPEGs in wasm and small PNGs in JS (the caller's thread; workers use sharp, see preprocess-pool.ts). */
export async function warmUpPreprocessing(runs = 8, syncDecoders = true): Promise<void> {
  const limits = syncDecoders ? DEFAULT_IMAGE_LIMITS : sharpOnly(DEFAULT_IMAGE_LIMITS);
  const [w, h] = [640, 480];
  const raw = Buffer.alloc(w * h * 3);
  // Texture plus noise, so the JPEG decoder's busy paths (many non-zero coefficients) run too.
  for (let i = 0, r = 1; i < raw.length; i++, r = (r * 1103515245 + 12345) >>> 0) raw[i] = ((i % 1920) ^ (i >> 11)) + (r >>> 28);
  const jpeg = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg().toBuffer();
  // Small JPEGs decode in wasm on this thread (jpeg-sync.ts): loaded and tiered up before the runs below.
  if (syncDecoders && (await loadJpegDecoder())) await warmJpegDecoder(jpeg, w, h);
  // And the PNG unfilter loops (png-sync.ts), every filter type: a first 0.3 MP decode ~20 ms, hot ~3 ms.
  if (syncDecoders) {
    const png = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png({ adaptiveFiltering: true, compressionLevel: 1 }).toBuffer();
    for (let i = 0; i < 8; i++) decodePngSync(png, w, h);
  }
  // The resize helper thread starts on the first image; wait for it so the warm-up runs use it too.
  await preparePixels(jpeg, {}, limits, DEFAULT_NORMALIZATION);
  await threadResizer().helperStarted();
  // Not recycled: a warm-up block would sit in this thread's free list for good (pixel-blocks.ts).
  for (let i = 0; i < runs; i++) await preparePixels(jpeg, {}, limits, DEFAULT_NORMALIZATION);
}
