/**
 * Recycled output memory for normalised pixels (issue 19). One image's pieces (overview + slices)
 * are views into ONE block; a caller that is done with them hands the block back with
 * `recyclePixels`, and the next image of this thread writes into it instead of allocating.
 *
 * Why: a 2 MP image's float32 pieces are ~24 MB. Fresh ArrayBuffers of that size are new mappings
 * (a page fault per 4 KiB on first write) and count as V8 external memory, which starts a full
 * mark-compact about every 64 MB — every 2–3 images, marking the whole service heap. In a loop of
 * 2 MP JPEGs (perf, 200 images) V8's marking and sweeping were ~19% of the process's CPU samples,
 * more than the vertical and normalisation kernels together.
 * Blocks that are never handed back are ordinary garbage: recycling is an optimisation only.
 */

/** At most this many blocks wait for reuse per thread... */
const MAX_BLOCKS = 2;
/** ...holding at most this many bytes together (a 12 MP image's pieces are ~25 MB). */
const MAX_BYTES = 64 * 1024 * 1024;

const free: ArrayBuffer[] = [];

/**
 * `floats` values of uninitialised memory (every value is written by the caller): the smallest
 * recycled block that fits, or a new one.
 */
export function takePixelBlock(floats: number): Float32Array {
  const bytes = floats * 4;
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    if (free[i].byteLength >= bytes && (best < 0 || free[i].byteLength < free[best].byteLength)) best = i;
  }
  // allocUnsafeSlow: no zero-fill of up to 25 MB, and a buffer of its own (not a slice of Buffer's pool).
  const buffer = best >= 0 ? free.splice(best, 1)[0] : Buffer.allocUnsafeSlow(bytes).buffer;
  return new Float32Array(buffer, 0, floats);
}

/** The one block that all of `pixels` view (as `preparePixels` returns them), or undefined. */
export function pixelBlockOf(pixels: readonly Float32Array[]): ArrayBuffer | undefined {
  const buffer = pixels[0]?.buffer;
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0 || pixels.some((p) => p.buffer !== buffer)) return undefined;
  return buffer;
}

/**
 * Hands an image's pieces back for reuse; the caller must not touch them afterwards. Anything that
 * is not one block (pieces of different buffers, detached buffers) is left to the garbage collector.
 */
export function recyclePixels(pixels: readonly Float32Array[]): void {
  const buffer = pixelBlockOf(pixels);
  if (buffer) recycleBlock(buffer);
}

/** A whole block back (the worker thread receives it transferred from the main thread). */
export function recycleBlock(buffer: ArrayBuffer): void {
  if (buffer.byteLength === 0 || free.includes(buffer)) return;
  free.push(buffer);
  // Keep the largest blocks within the limits: they fit every smaller image too.
  free.sort((a, b) => b.byteLength - a.byteLength);
  let total = 0;
  let keep = 0;
  while (keep < free.length && keep < MAX_BLOCKS && total + free[keep].byteLength <= MAX_BYTES) total += free[keep++].byteLength;
  free.length = keep;
}

/** Blocks waiting for reuse on this thread (tests). */
export function recycledBlocks(): number {
  return free.length;
}
