/**
 * PIL-compatible BICUBIC resize for 8-bit RGB (Pillow `Image.resize(size, BICUBIC)`,
 * libImaging/Resample.c). MiniCPM-V's processor resizes with PIL, so matching it keeps our pixels
 * (and hence patch features) equal to the original pipeline's rather than merely similar:
 * - cubic kernel with a = -0.5, support 2, widened by the scale factor when downscaling
 *   (antialiasing: 4000 → 1680 px uses ~10 taps, not 4);
 * - coefficients normalised per output pixel, then quantised to 22-bit fixed point;
 * - two passes, horizontal first into an 8-bit buffer (only the rows the vertical pass reads),
 *   then vertical; each pass rounds (+2^21) and clamps to 0..255.
 * The passes run as WebAssembly SIMD kernels (pil-resize-wasm.ts) over one shared linear memory that
 * holds the source once, so the overview and the refine image are both resized from the same copy,
 * on two threads (resize-helper.ts).
 */
import { availableParallelism } from 'node:os';
import { instantiateKernels, type ResampleKernels } from './pil-resize-wasm.js';
import { helperUseful, ResizeHelper, type HelperPolicy, type KernelCall } from './resize-helper.js';

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

/** One resize's kernel inputs, as the kernels read them from linear memory (layout copies them in). */
interface KernelCoefficients {
  /** Horizontal pass (absent for the same width): [xmin, count rounded up to 4] per output column. */
  hBounds?: Int32Array;
  /** Taps in groups of 4 as split i16 weights, 32 bytes per group (see pil-resize-wasm.ts). */
  hKk?: Int16Array;
  hGroups: number;
  /** Vertical pass (absent for the same height): [ymin relative to yFirst, count] per output row. */
  vBounds?: Int32Array;
  /** One splatted i32 per tap (4 lanes). */
  vKk?: Int32Array;
  vKsize: number;
  /** Only rows the vertical pass reads are resampled horizontally (Pillow's ybox_first/last). */
  yFirst: number;
  rows: number;
}

/**
 * Coefficients per (source, output) size, the last few kept: images of one size come in runs (a
 * camera's, a bench's), and computing them is ~0.25 ms of a 0.3 MP image's ~5 ms (issue 19).
 */
const coefficientCache = new Map<string, KernelCoefficients>();
const COEFFICIENT_CACHE_SIZE = 8;

function kernelCoefficients(w: number, h: number, outW: number, outH: number): KernelCoefficients {
  const key = `${w}x${h}>${outW}x${outH}`;
  const hit = coefficientCache.get(key);
  if (hit) return hit;
  const cv = outH !== h ? precompute(h, outH) : undefined;
  const ch = outW !== w ? precompute(w, outW) : undefined;
  const yFirst = ch && cv ? cv.bounds[0] : 0;
  const yLast = ch && cv ? cv.bounds[outH * 2 - 2] + cv.bounds[outH * 2 - 1] : h;
  if (ch && cv) for (let i = 0; i < outH; i++) cv.bounds[i * 2] -= yFirst;
  const c: KernelCoefficients = { hGroups: 0, vKsize: 0, yFirst, rows: yLast - yFirst };
  if (ch) {
    c.hGroups = Math.ceil(ch.ksize / 4);
    c.hBounds = ch.bounds.slice();
    for (let i = 1; i < ch.bounds.length; i += 2) c.hBounds[i] = (ch.bounds[i] + 3) & ~3;
    const i16 = (c.hKk = new Int16Array(outW * c.hGroups * 16));
    for (let pos = 0; pos < outW; pos++) {
      for (let t = 0; t < ch.ksize; t++) {
        const k = ch.kk[pos * ch.ksize + t];
        const o = (pos * c.hGroups + (t >> 2)) * 16 + (t & 3);
        i16[o] = i16[o + 4] = k >> 11;
        i16[o + 8] = i16[o + 12] = k & 2047;
      }
    }
  }
  if (cv) {
    c.vKsize = cv.ksize;
    c.vBounds = cv.bounds;
    c.vKk = new Int32Array(cv.kk.length * 4);
    for (let i = 0; i < cv.kk.length; i++) c.vKk.fill(cv.kk[i], i * 4, i * 4 + 4);
  }
  if (coefficientCache.size >= COEFFICIENT_CACHE_SIZE) coefficientCache.delete(coefficientCache.keys().next().value!);
  coefficientCache.set(key, c);
  return c;
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

/** One resize of the loaded source: where its output lies in linear memory (valid until the next resize/load). */
export interface Resized {
  /** The output pixels, packed RGB: a view into linear memory. */
  rgb: Uint8Array;
  width: number;
  height: number;
  /** Byte offset of `rgb` in linear memory. */
  offset: number;
}

/** The horizontal pass of one resize: `rows` source rows from `src` into `dst` (hpass's arguments). */
interface HPass {
  src: number;
  srcStride: number;
  rows: number;
  outW: number;
  bounds: number;
  kk: number;
  groups: number;
  dst: number;
}

/** The vertical pass of one resize: `outH` rows into `dst` (vpass's arguments; bounds/kk per output row). */
interface VPass {
  src: number;
  stride: number;
  outH: number;
  bounds: number;
  kk: number;
  ksize: number;
  dst: number;
}

/** A resize laid out in linear memory: its passes (none for the same size) and its output. */
interface ResizeJob {
  h?: HPass;
  v?: VPass;
  out: number;
  width: number;
  height: number;
  /** First free byte after its buffers. */
  end: number;
}

/** Sources smaller than this are resized on one thread: the hand-off would cost more than it saves. */
const PARALLEL_MIN_PIXELS = 100_000;
/**
 * Chunks per pass when split: enough that a helper descheduled mid-chunk (a loaded machine) holds
 * little of the work, few enough that claiming (one compare-and-swap each) stays negligible.
 */
const CHUNKS = 8;
const MIN_CHUNK_ROWS = 4;

/**
 * Resizes one RGB source to several sizes. The source is copied into WebAssembly memory once
 * (`load`); `resizeMany` lays the resizes out side by side after it and returns views into that
 * memory, valid until the next `resizeMany`/`resize`/`load`, so callers normalise or copy straight
 * from them with no intermediate buffer. A parallel resizer shares each pass's rows with a helper
 * thread (resize-helper.ts): first every horizontal pass, then every vertical pass. One per thread
 * (not re-entrant).
 */
export class PilResizer {
  private k: ResampleKernels | undefined;
  private helper: ResizeHelper | undefined;
  private width = 0;
  private height = 0;
  /** End of the loaded source in memory; scratch space for the resizes starts here. */
  private top = 0;
  /** First free byte after the last resizes' outputs (normalisation scratch). */
  private end = 0;

  /** Whether resizes share their passes with a helper thread (resize-helper.ts; threadResizer's: `auto`). */
  constructor(public helperPolicy: HelperPolicy = 'off') {}

  private memory(bytes: number): ArrayBufferLike {
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
    this.end = this.top;
  }

  /** The loaded source resized to outW×outH: a view valid until the next call. */
  resize(outW: number, outH: number): Uint8Array {
    return this.resizeMany([[outW, outH]])[0].rgb;
  }

  /** The loaded source resized to each size (independently, each from the source). */
  resizeMany(sizes: readonly (readonly [number, number])[]): Resized[] {
    const jobs: ResizeJob[] = [];
    let at = this.top;
    for (const [w, h] of sizes) {
      const job = this.layout(w, h, at);
      jobs.push(job);
      at = job.end;
    }
    const buf = this.memory(at);
    const helper = this.helperFor();
    // Every horizontal pass before any vertical one: a vertical pass reads the rows both threads wrote.
    this.runSplit(helper, jobs.flatMap((j) => (j.h ? [hpassOf(j.h)] : [])));
    this.runSplit(helper, jobs.flatMap((j) => (j.v ? [vpassOf(j.v)] : [])));
    this.end = at;
    return jobs.map((j) => ({ rgb: new Uint8Array(buf, j.out, j.width * j.height * 3), width: j.width, height: j.height, offset: j.out }));
  }

  /**
   * Runs passes: with a helper, each splittable pass is cut into CHUNKS runs of rows that this thread
   * and the helper claim in turn (resize-helper.ts); without one, each pass runs whole here.
   */
  private runSplit(helper: ResizeHelper | undefined, passes: Pass[]): void {
    const k = this.k!;
    if (!helper) {
      for (const p of passes) runCall(k, p.rows(0, p.count));
      return;
    }
    const calls: KernelCall[] = [];
    for (const p of passes) {
      const step = p.splittable ? Math.max(MIN_CHUNK_ROWS, Math.ceil(p.count / CHUNKS)) : p.count;
      for (let from = 0; from < p.count; from += step) calls.push(p.rows(from, Math.min(p.count, from + step)));
    }
    helper.run(k, calls);
  }

  /** The helper thread when it pays: the policy allows it now, a big enough source, helper started. */
  private helperFor(): ResizeHelper | undefined {
    if (this.width * this.height < PARALLEL_MIN_PIXELS || !helperUseful(this.helperPolicy)) return undefined;
    // Started on first use, in the background: until it is ready this thread resizes alone.
    this.helper ??= new ResizeHelper(this.k!.memory);
    return this.helper.ready ? this.helper : undefined;
  }

  /** Whether this resizer's helper thread is running (starting it if needed); tests and warm-up. */
  async helperStarted(timeoutMs = 10_000): Promise<boolean> {
    if (this.helperPolicy === 'off' || availableParallelism() < 2) return false;
    this.memory(SRC);
    this.helper ??= new ResizeHelper(this.k!.memory);
    for (const t0 = Date.now(); !this.helper.ready && Date.now() - t0 < timeoutMs; ) await new Promise((r) => setTimeout(r, 5));
    return this.helper.ready;
  }

  /** Chunks the helper thread has run (tests). */
  helperChunks(): number {
    return this.helper?.chunksRun() ?? 0;
  }

  /** Lays out one resize from byte `from` on: writes its coefficients and returns its passes. */
  private layout(outW: number, outH: number, from: number): ResizeJob {
    const { width: w, height: h } = this;
    if (outW === w && outH === h) return { out: SRC, width: w, height: h, end: from };
    const c = kernelCoefficients(w, h, outW, outH);
    // Layout: [h coeffs][v coeffs][tmp rows (horizontal output)][out].
    let at = from;
    const place = (bytes: number) => {
      const off = at;
      at = align16(at + bytes + SLACK);
      return off;
    };
    const hBounds = c.hBounds ? place(c.hBounds.byteLength) : 0;
    const hKk = c.hKk ? place(c.hKk.byteLength) : 0;
    const vBounds = c.vBounds ? place(c.vBounds.byteLength) : 0;
    const vKk = c.vKk ? place(c.vKk.byteLength) : 0;
    const tmp = c.hKk && c.vKk ? place(outW * c.rows * 3) : 0;
    const out = place(outW * outH * 3);
    const buf = this.memory(at);
    if (c.hBounds) new Int32Array(buf, hBounds, c.hBounds.length).set(c.hBounds);
    if (c.hKk) new Int16Array(buf, hKk, c.hKk.length).set(c.hKk);
    if (c.vBounds) new Int32Array(buf, vBounds, c.vBounds.length).set(c.vBounds);
    if (c.vKk) new Int32Array(buf, vKk, c.vKk.length).set(c.vKk);
    const job: ResizeJob = { out, width: outW, height: outH, end: at };
    if (c.hKk) job.h = { src: SRC + c.yFirst * w * 3, srcStride: w * 3, rows: c.vKk ? c.rows : h, outW, bounds: hBounds, kk: hKk, groups: c.hGroups, dst: c.vKk ? tmp : out };
    if (c.vKk) job.v = { src: c.hKk ? tmp : SRC, stride: outW * 3, outH, bounds: vBounds, kk: vKk, ksize: c.vKsize, dst: out };
    return job;
  }

  /** A region of a resize (or of the source) as packed RGB in a new array. */
  crop(from: Resized, box: { x: number; y: number; width: number; height: number }): { rgb: Uint8Array; width: number; height: number } {
    const rgb = new Uint8Array(box.width * box.height * 3);
    const rowBytes = box.width * 3;
    for (let y = 0; y < box.height; y++) {
      const at = ((box.y + y) * from.width + box.x) * 3;
      rgb.set(from.rgb.subarray(at, at + rowBytes), y * rowBytes);
    }
    return { rgb, width: box.width, height: box.height };
  }

  /**
   * A region of a resize as planar [3, box.height, box.width] values looked up in `lut` (768
   * float32: R, G, B tables), written into `dst` (box.width·box.height·3 values; e.g. a view into a
   * recycled block, see pixel-blocks.ts) or a new array the caller owns.
   */
  normalize(from: Resized, box: { x: number; y: number; width: number; height: number }, lut: Float32Array, dst?: Float32Array): Float32Array {
    const n = box.width * box.height * 3;
    if (dst && dst.length !== n) throw new Error(`PilResizer.normalize: dst holds ${dst.length} values, expected ${n}`);
    const at = this.end;
    const buf = this.memory(at + n * 4 + SLACK);
    new Float32Array(buf, LUT, 768).set(lut);
    this.k!.norm(from.offset + (box.y * from.width + box.x) * 3, from.width * 3, box.width, box.height, LUT, at);
    // Uninitialised (every byte is written next): no zero-fill pass over up to 20 MB per image.
    const out = dst ?? new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
    out.set(new Float32Array(buf, at, n));
    return out;
  }

  /** Drops the linear memory (and the helper that shares it) when one image made it larger than KEEP_BYTES (it cannot shrink). */
  trim(): void {
    if (this.k && this.k.memory.buffer.byteLength > KEEP_BYTES) {
      this.k = undefined;
      this.helper?.close();
      this.helper = undefined;
    }
  }
}

const [HPASS, VPASS] = [0, 1];

/** A pass as row ranges: `rows(from, to)` is the kernel call for rows [from, to). */
interface Pass {
  count: number;
  /** Whether two threads may write parts of it at once (no row writes into another). */
  splittable: boolean;
  rows(from: number, to: number): KernelCall;
}

/** hpass by source rows (each output row depends on its source row only; no row writes into another). */
const hpassOf = (h: HPass): Pass => ({
  count: h.rows,
  splittable: true,
  rows: (from, to) => [HPASS, h.src + from * h.srcStride, h.srcStride, to - from, h.outW, h.bounds, h.kk, h.groups, h.dst + from * h.outW * 3],
});

/**
 * vpass by output rows: each row's bounds and weights are per output row, the source offsets in its
 * bounds absolute. Rows narrower than 16 bytes spill into the next row, so those are not split.
 */
const vpassOf = (v: VPass): Pass => ({
  count: v.outH,
  splittable: v.stride >= 16,
  rows: (from, to) => [VPASS, v.src, v.stride, to - from, v.bounds + from * 8, v.kk + from * v.ksize * 16, v.ksize, v.dst + from * v.stride, v.stride >= 16 ? v.stride - 16 : 0],
});

function runCall(k: ResampleKernels, c: KernelCall): void {
  if (c[0] === HPASS) k.hpass(c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
  else k.vpass(c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
}

let shared: PilResizer | undefined;

/** This thread's resizer (one linear memory reused across images: no page faults after the first). */
export function threadResizer(): PilResizer {
  shared ??= new PilResizer('auto');
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
