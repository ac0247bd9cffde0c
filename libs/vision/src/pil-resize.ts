/**
 * PIL-compatible BICUBIC resize for 8-bit RGB (Pillow `Image.resize(size, BICUBIC)`,
 * libImaging/Resample.c). MiniCPM-V's processor resizes with PIL, so matching it keeps our pixels
 * (and hence patch features) equal to the original pipeline's rather than merely similar:
 * - cubic kernel with a = -0.5, support 2, widened by the scale factor when downscaling
 *   (antialiasing: 4000 → 1680 px uses ~10 taps, not 4);
 * - coefficients normalised per output pixel, then quantised to 22-bit fixed point;
 * - two passes, horizontal first into an 8-bit buffer (only the rows the vertical pass reads),
 *   then vertical; each pass rounds (+2^21) and clamps to 0..255.
 * The passes run as WebAssembly SIMD kernels (pil-resize-wasm.ts) over one linear memory that holds
 * the source once, so the overview and the refine image are both resized from the same copy.
 */
import { instantiateKernels, type ResampleKernels } from './pil-resize-wasm.js';

const PRECISION_BITS = 22; // 32 - 8 - 2 in Pillow

function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coeffs {
  ksize: number;
  /** [xmin, count] per output position */
  bounds: Int32Array;
  /** fixed-point weights, ksize per output position */
  kk: Int32Array;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc, in the same double arithmetic. */
function precompute(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5); // C (int) cast
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const v = bicubic((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : w[x];
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

/** Slack after every buffer in linear memory: the kernels read/write up to 16 bytes past the end. */
const SLACK = 16;
const PAGE = 65536;
/** Linear memory kept between images (a 12 MP image needs ~60 MB); larger instances are dropped after use. */
const KEEP_BYTES = 128 * 1024 * 1024;
const align16 = (n: number) => (n + 15) & ~15;
/** Linear memory starts with the normalisation table (3 × 256 float32); the source follows it. */
const LUT = 0;
const SRC = 3 * 256 * 4;

/**
 * Resizes one RGB source to several sizes. The source is copied into WebAssembly memory once
 * (`load`); each `resize` returns a view into that memory that stays valid until the next
 * `resize`/`load`, so callers normalise or copy straight from it with no intermediate buffer.
 * One per thread (not re-entrant).
 */
export class PilResizer {
  private k: ResampleKernels | undefined;
  private width = 0;
  private height = 0;
  /** End of the loaded source in memory; scratch space for each resize starts here. */
  private top = 0;
  /** The last resize's output: offset, width and the first free byte after it. */
  private out = SRC;
  private outW = 0;
  private end = 0;

  private memory(bytes: number): ArrayBuffer {
    this.k ??= instantiateKernels();
    const mem = this.k.memory;
    if (mem.buffer.byteLength < bytes) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / PAGE));
    return mem.buffer;
  }

  /** Copies packed RGB (3 bytes per pixel, row-major) into linear memory. */
  load(src: Uint8Array, width: number, height: number): void {
    if (src.length !== width * height * 3) throw new Error(`PilResizer.load: buffer is ${src.length} bytes, expected ${width}×${height}×3`);
    this.top = align16(SRC + src.length + SLACK);
    new Uint8Array(this.memory(this.top)).set(src, SRC);
    this.width = width;
    this.height = height;
    this.out = SRC;
    this.outW = width;
    this.end = this.top;
  }

  /** The loaded source resized to outW×outH: a view valid until the next call. */
  resize(outW: number, outH: number): Uint8Array {
    const { width: w, height: h } = this;
    if (outW === w && outH === h) {
      [this.out, this.outW, this.end] = [SRC, w, this.top];
      return new Uint8Array(this.memory(this.top), SRC, w * h * 3);
    }
    const horiz = outW !== w;
    const vert = outH !== h;
    const cv = vert ? precompute(h, outH) : undefined;
    const ch = horiz ? precompute(w, outW) : undefined;
    // Only rows the vertical pass reads are resampled horizontally (Pillow's ybox_first/last).
    const yFirst = ch && cv ? cv.bounds[0] : 0;
    const yLast = ch && cv ? cv.bounds[outH * 2 - 2] + cv.bounds[outH * 2 - 1] : h;
    if (ch && cv) for (let i = 0; i < outH; i++) cv.bounds[i * 2] -= yFirst;
    const rows = yLast - yFirst;

    // Layout after the source: [h coeffs][v coeffs][tmp rows (horizontal output)][out].
    let at = this.top;
    const place = (bytes: number) => {
      const off = at;
      at = align16(at + bytes + SLACK);
      return off;
    };
    // The horizontal kernel takes taps in groups of 4 (counts rounded up with zero weights) as split
    // i16 weights, 32 bytes per group (see pil-resize-wasm.ts); the vertical one a splatted i32 per tap.
    const hGroups = ch ? Math.ceil(ch.ksize / 4) : 0;
    const hBounds = ch ? place(ch.bounds.byteLength) : 0;
    const hKk = ch ? place(outW * hGroups * 32) : 0;
    const vBounds = cv ? place(cv.bounds.byteLength) : 0;
    const vKk = cv ? place(cv.kk.length * 16) : 0;
    const tmp = horiz && vert ? place(outW * rows * 3) : 0;
    const out = place(outW * outH * 3);
    const buf = this.memory(at);
    const i32 = new Int32Array(buf);
    if (ch) {
      const b = hBounds >> 2;
      i32.set(ch.bounds, b);
      for (let i = 1; i < ch.bounds.length; i += 2) i32[b + i] = (ch.bounds[i] + 3) & ~3;
      const i16 = new Int16Array(buf, hKk, outW * hGroups * 16);
      i16.fill(0);
      for (let pos = 0; pos < outW; pos++) {
        for (let t = 0; t < ch.ksize; t++) {
          const k = ch.kk[pos * ch.ksize + t];
          const o = (pos * hGroups + (t >> 2)) * 16 + (t & 3);
          i16[o] = i16[o + 4] = k >> 11;
          i16[o + 8] = i16[o + 12] = k & 2047;
        }
      }
    }
    if (cv) {
      i32.set(cv.bounds, vBounds >> 2);
      const base = vKk >> 2;
      for (let i = 0; i < cv.kk.length; i++) i32.fill(cv.kk[i], base + i * 4, base + i * 4 + 4);
    }

    const k = this.k!;
    if (ch && cv) {
      k.hpass(SRC + yFirst * w * 3, w * 3, rows, outW, hBounds, hKk, hGroups, tmp);
      k.vpass(tmp, outW * 3, outH, vBounds, vKk, cv.ksize, out);
    } else if (ch) {
      k.hpass(SRC, w * 3, h, outW, hBounds, hKk, hGroups, out);
    } else if (cv) {
      k.vpass(SRC, w * 3, outH, vBounds, vKk, cv.ksize, out);
    }
    [this.out, this.outW, this.end] = [out, outW, at];
    return new Uint8Array(buf, out, outW * outH * 3);
  }

  /** A region of the last `resize` (or of the source) as packed RGB in a new array. */
  crop(box: { x: number; y: number; width: number; height: number }): { rgb: Uint8Array; width: number; height: number } {
    const src = new Uint8Array(this.memory(this.end), this.out, (box.y + box.height) * this.outW * 3);
    const rgb = new Uint8Array(box.width * box.height * 3);
    const rowBytes = box.width * 3;
    for (let y = 0; y < box.height; y++) {
      const from = ((box.y + y) * this.outW + box.x) * 3;
      rgb.set(src.subarray(from, from + rowBytes), y * rowBytes);
    }
    return { rgb, width: box.width, height: box.height };
  }

  /**
   * A region of the last `resize` (or of the source) as planar [3, box.height, box.width] values
   * looked up in `lut` (768 float32: R, G, B tables), written into `dst` (box.width·box.height·3
   * values; e.g. a view into a recycled block, see pixel-blocks.ts) or a new array the caller owns.
   */
  normalize(box: { x: number; y: number; width: number; height: number }, lut: Float32Array, dst?: Float32Array): Float32Array {
    const n = box.width * box.height * 3;
    if (dst && dst.length !== n) throw new Error(`PilResizer.normalize: dst holds ${dst.length} values, expected ${n}`);
    const at = this.end;
    const buf = this.memory(at + n * 4 + SLACK);
    new Float32Array(buf, LUT, 768).set(lut);
    this.k!.norm(this.out + (box.y * this.outW + box.x) * 3, this.outW * 3, box.width, box.height, LUT, at);
    // Uninitialised (every byte is written next): no zero-fill pass over up to 20 MB per image.
    const out = dst ?? new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
    out.set(new Float32Array(buf, at, n));
    return out;
  }

  /** Drops the linear memory when one image made it larger than KEEP_BYTES (it cannot shrink). */
  trim(): void {
    if (this.k && this.k.memory.buffer.byteLength > KEEP_BYTES) this.k = undefined;
  }
}

let shared: PilResizer | undefined;

/** This thread's resizer (one linear memory reused across images: no page faults after the first). */
export function threadResizer(): PilResizer {
  shared ??= new PilResizer();
  return shared;
}

/** Resizes packed RGB (3 bytes per pixel, row-major) from w×h to outW×outH into a new array. */
export function resizeBicubicRgb(src: Uint8Array, w: number, h: number, outW: number, outH: number): Uint8Array {
  if (src.length !== w * h * 3) throw new Error(`resizeBicubicRgb: buffer is ${src.length} bytes, expected ${w}×${h}×3`);
  if (outW === w && outH === h) return src.slice();
  const r = threadResizer();
  r.load(src, w, h);
  const out = r.resize(outW, outH).slice();
  r.trim();
  return out;
}
