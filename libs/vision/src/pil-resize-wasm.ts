/**
 * The two passes of Pillow's fixed-point BICUBIC resample (libImaging/Resample.c) as WebAssembly
 * SIMD kernels, emitted byte by byte below (no toolchain or npm package: ~100 instructions).
 *
 * Why WebAssembly: the arithmetic is Pillow's exactly (int32 products of a u8 sample and a 22-bit
 * coefficient, int32 sums starting at 2^21, `>> 22`, clamp to 0..255), and i32x4 lanes do it four
 * channels/bytes at a time. Measured on a 4000×3000 → 1680×1260 resize: pure JS ≈ 4× slower.
 * - hpass: one output pixel per step, four taps per inner step (dot products, see hpass()); taps
 *   may read a few bytes past the row (next row or slack) with weight 0; a row's last pixel stores
 *   exactly its 3 bytes.
 * - vpass: 16 output bytes per step (4 × i32x4); the last step of a row is moved back to end at the
 *   row's end (rows narrower than 16 bytes spill into the next row; 16 bytes of slack after buffers).
 * Clamping comes free from the saturating narrows (i32 → i16 signed, i16 → u8 unsigned), which
 * give exactly Pillow's clip8 after the arithmetic shift.
 * Coefficients are passed pre-splatted: one v128 (k, k, k, k) per tap.
 */

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const str = (s: string): number[] => vec([...Buffer.from(s, 'utf8')].map((b) => [b]));
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// Instructions (memarg = align 0, offset given).
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const tee = (i: number) => [0x22, ...uleb(i)];
const i32c = (v: number) => [0x41, ...sleb(v)];
const add = [0x6a];
const sub = [0x6b];
const mul = [0x6c];
const geU = [0x4f];
const eqz = [0x45];
const eq = [0x46];
const gtU = [0x4b];
const select = [0x1b];
const load = (off = 0) => [0x28, 0, ...uleb(off)];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const v128Load = simd(0x00, 0, 0);
const v128LoadAt = (off: number) => simd(0x00, 0, ...uleb(off));
const v128Store = simd(0x0b, 0, 0);
const i32x4Splat = simd(0x11);
const store32Lane0 = simd(0x5a, 0, 0, 0);
const store16Lane0 = simd(0x59, 0, 0, 0);
const store8Lane2At2 = simd(0x58, 0, 2, 2);
/** `if (cond) { then } else { otherwise }` (no result). */
const ifElse = (cond: number[], then: number[], otherwise: number[]) => [...cond, 0x04, 0x40, ...then, 0x05, ...otherwise, 0x0b];
const i8x16NarrowU = simd(0x66);
const i16x8NarrowS = simd(0x85);
const i16x8ExtLowU = simd(0x89);
const i16x8ExtHighU = simd(0x8a);
const i32x4ExtLowU = simd(0xa9);
const i32x4ExtHighU = simd(0xaa);
const i32x4ShrS = simd(0xac);
const i32x4Add = simd(0xae);
const i32x4Mul = simd(0xb5);
const i32x4Shl = simd(0xab);
const i32x4DotI16x8S = simd(0xba);
const i8x16Swizzle = simd(0x0e);
const i8x16Shuffle = (lanes: number[]) => simd(0x0d, ...lanes);
const v128Const = (bytes: number[]) => simd(0x0c, ...bytes);

/** `while (!(a >= b)) { body }` as block/loop; `cond` pushes the exit condition. */
const whileNot = (cond: number[], body: number[]) => [0x02, 0x40, 0x03, 0x40, ...cond, 0x0d, 1, ...body, 0x0c, 0, 0x0b, 0x0b];
const inc = (local: number, by: number[]) => [...get(local), ...by, ...add, ...set(local)];

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);

function func(params: number, locals: [number, number][], body: number[]): { type: number[]; code: number[] } {
  const type = [0x60, ...vec(Array.from({ length: params }, () => [I32])), 0];
  const l = vec(locals.map(([n, t]) => [...uleb(n), t]));
  const code = [...l, ...body, 0x0b];
  return { type, code: [...uleb(code.length), ...code] };
}

/**
 * hpass(src, srcStride, rows, outW, bounds, kk, groups, dst): four taps per step with
 * i32x4.dot_i16x8_s. A 22-bit weight does not fit an i16 lane, so it is split k = kh·2^11 + kl
 * (kl = k & 2047, kh = k >> 11, both fit) and Σ p·k = 2^11·Σ p·kh + Σ p·kl: the same integer sum
 * as Pillow's, hence the same pixels. One 16-byte load holds the 4 tap pixels; two swizzles make
 * [R0 R1 R2 R3 G0 G1 G2 G3] and [B0 B1 B2 B3 0 0 0 0] as u16, and each group's weights are stored as
 * [kh0..kh3 kh0..kh3][kl0..kl3 kl0..kl3] (32 bytes, `groups` groups per output position). Counts
 * are rounded up to a multiple of 4 with zero weights, so a step may read up to 3 pixels + 4 bytes
 * past a row (next row or slack) and adds 0 × it. 4 bytes are stored per pixel (R, G, B, junk that
 * the next pixel overwrites), 3 for a row's last pixel, so no row writes into another.
 * ~1.6× fewer instructions than one i32x4 multiply per tap.
 */
function hpass() {
  const [src, srcStride, rows, outW, bounds, kk, groups, dst] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [y, xx, p, kt, n, bp, kp, outp] = [8, 9, 10, 11, 12, 13, 14, 15];
  const [ahi, alo, bhi, blo, px, ch, cl, rg, bm, a] = [16, 17, 18, 19, 20, 21, 22, 23, 24, 25];
  const Z = 0x80; // swizzle index with the top bit set → 0
  const mask = (idx: number[]) => v128Const(idx.flatMap((i) => [i, Z]));
  const dot = (acc: number, v: number, c: number) => [...get(acc), ...get(v), ...get(c), ...i32x4DotI16x8S, ...i32x4Add, ...set(acc)];
  const swz = (m: number) => [...get(px), ...get(m), ...i8x16Swizzle];
  const group = [
    ...get(p), ...v128Load, ...set(px),
    ...get(kt), ...v128Load, ...set(ch),
    ...get(kt), ...v128LoadAt(16), ...set(cl),
    ...swz(rg), ...set(a),
    ...dot(ahi, a, ch), ...dot(alo, a, cl),
    ...swz(bm), ...set(a),
    ...dot(bhi, a, ch), ...dot(blo, a, cl),
  ];
  const tapLoop = whileNot([...get(n), ...eqz], [...group, ...inc(p, i32c(12)), ...inc(kt, i32c(32)), ...get(n), ...i32c(4), ...sub, ...set(n)]);
  const zero = [...i32c(0), ...i32x4Splat];
  // (hi << 11) + lo per accumulator; then [R01, R23, G01, G23] + [B01, B23, ·, ·] reduced to [R, G, B, ·].
  const combine = (hi: number, lo: number) => [...get(hi), ...i32c(11), ...i32x4Shl, ...get(lo), ...i32x4Add];
  const lanes = (ids: number[]) => ids.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
  const pixelLoop = whileNot(
    [...get(xx), ...get(outW), ...geU],
    [
      ...get(src), ...get(bp), ...load(0), ...i32c(3), ...mul, ...add, ...set(p),
      ...get(bp), ...load(4), ...set(n),
      ...zero, ...tee(ahi), ...tee(alo), ...tee(bhi), ...set(blo),
      ...get(kp), ...set(kt),
      ...tapLoop,
      ...combine(ahi, alo), ...set(a), ...combine(bhi, blo), ...set(px),
      ...get(a), ...get(px), ...i8x16Shuffle(lanes([0, 2, 4, 4])),
      ...get(a), ...get(px), ...i8x16Shuffle(lanes([1, 3, 5, 5])),
      ...i32x4Add, ...i32c(HALF), ...i32x4Splat, ...i32x4Add,
      ...i32c(PRECISION_BITS), ...i32x4ShrS, ...tee(a), ...get(a), ...i16x8NarrowS, ...tee(a), ...get(a), ...i8x16NarrowU, ...set(a),
      // The row's last pixel stores exactly its 3 bytes: nothing lands in the next row, so rows can be
      // split between threads (resize-helper.ts).
      ...ifElse(
        [...get(xx), ...i32c(1), ...add, ...get(outW), ...eq],
        [...get(outp), ...get(a), ...store16Lane0, ...get(outp), ...get(a), ...store8Lane2At2],
        [...get(outp), ...get(a), ...store32Lane0],
      ),
      ...inc(outp, i32c(3)), ...inc(bp, i32c(8)), ...inc(kp, [...get(groups), ...i32c(32), ...mul]), ...inc(xx, i32c(1)),
    ],
  );
  const body = [
    ...mask([0, 3, 6, 9, 1, 4, 7, 10]), ...set(rg),
    ...mask([2, 5, 8, 11, Z, Z, Z, Z]), ...set(bm),
    ...get(dst), ...set(outp),
    ...whileNot(
      [...get(y), ...get(rows), ...geU],
      [
        ...i32c(0), ...set(xx), ...get(bounds), ...set(bp), ...get(kk), ...set(kp),
        ...pixelLoop,
        ...inc(src, get(srcStride)), ...inc(y, i32c(1)),
      ],
    ),
  ];
  return func(8, [[8, I32], [10, V128]], body);
}

/**
 * vpass(src, stride, outH, bounds, kk4, ksize, dst, lastX): a row's chunks start at x = 0, 16, …
 * but never after lastX (= stride − 16 when stride ≥ 16): the last chunk is moved back to end at
 * the row's end and recomputes a few bytes with the same values, so no row writes into another
 * (with lastX = 0 and stride < 16 it spills into the next row, written after it).
 */
function vpass() {
  const [src, stride, outH, bounds, kk4, ksize, dst, lastX] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [yy, x, p, kt, n, bp, kp, rowBase, outp, xe] = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
  const [a0, a1, a2, a3, v, k, lo, hi] = [18, 19, 20, 21, 22, 23, 24, 25];
  const madd = (a: number, half: number[], ext: number[]) => [...get(a), ...get(half[0]), ...ext, ...get(k), ...i32x4Mul, ...i32x4Add, ...set(a)];
  const tapLoop = whileNot(
    [...get(n), ...eqz],
    [
      ...get(kt), ...v128Load, ...set(k),
      ...get(p), ...v128Load, ...tee(v), ...i16x8ExtLowU, ...set(lo),
      ...get(v), ...i16x8ExtHighU, ...set(hi),
      ...madd(a0, [lo], i32x4ExtLowU), ...madd(a1, [lo], i32x4ExtHighU),
      ...madd(a2, [hi], i32x4ExtLowU), ...madd(a3, [hi], i32x4ExtHighU),
      ...inc(p, get(stride)), ...inc(kt, i32c(16)), ...get(n), ...i32c(1), ...sub, ...set(n),
    ],
  );
  const shr = (a: number) => [...get(a), ...i32c(PRECISION_BITS), ...i32x4ShrS];
  const chunkLoop = whileNot(
    [...get(x), ...get(stride), ...geU],
    [
      ...i32c(HALF), ...i32x4Splat, ...tee(a0), ...tee(a1), ...tee(a2), ...set(a3),
      ...get(lastX), ...get(x), ...get(x), ...get(lastX), ...gtU, ...select, ...set(xe),
      ...get(rowBase), ...get(xe), ...add, ...set(p),
      ...get(bp), ...load(4), ...set(n),
      ...get(kp), ...set(kt),
      ...tapLoop,
      ...get(outp), ...get(xe), ...add,
      ...shr(a0), ...shr(a1), ...i16x8NarrowS, ...shr(a2), ...shr(a3), ...i16x8NarrowS, ...i8x16NarrowU,
      ...v128Store,
      ...inc(x, i32c(16)),
    ],
  );
  const body = [
    ...get(dst), ...set(outp), ...get(bounds), ...set(bp), ...get(kk4), ...set(kp),
    ...whileNot(
      [...get(yy), ...get(outH), ...geU],
      [
        ...get(src), ...get(bp), ...load(0), ...get(stride), ...mul, ...add, ...set(rowBase),
        ...i32c(0), ...set(x),
        ...chunkLoop,
        ...inc(outp, get(stride)), ...inc(bp, i32c(8)), ...inc(kp, [...get(ksize), ...i32c(16), ...mul]), ...inc(yy, i32c(1)),
      ],
    ),
  ];
  return func(8, [[10, I32], [8, V128]], body);
}

/**
 * norm(src, stride, width, height, lut, dst): packed RGB (`stride` bytes per row) → planar
 * [3][height][width] 32-bit values, each byte looked up in `lut` (3 × 256 entries, R then G then B).
 * The table holds the float32 bits of the normalised values, so loads and stores are i32 (bit-exact,
 * no float canonicalisation). Scalar: ~3× faster than the same loop in JS (no bounds checks).
 */
function norm() {
  const [src, stride, width, height, lut, dst] = [0, 1, 2, 3, 4, 5];
  const [y, p, end, o, plane] = [6, 7, 8, 9, 10];
  const load8 = (off: number) => [0x2d, 0, ...uleb(off)];
  const store = (off: number) => [0x36, 2, ...uleb(off)];
  const shl = [0x74];
  // dst[o + k·plane] = lut[k·256 + src[p + k]] for channel k
  const channel = (k: number) => [
    ...get(o), ...(k ? [...get(plane), ...i32c(k), ...mul, ...add] : []),
    ...get(lut), ...get(p), ...load8(k), ...i32c(2), ...shl, ...add, ...load(k * 1024),
    ...store(0),
  ];
  const pixelLoop = whileNot([...get(p), ...get(end), ...geU], [...channel(0), ...channel(1), ...channel(2), ...inc(p, i32c(3)), ...inc(o, i32c(4))]);
  const body = [
    ...get(width), ...get(height), ...mul, ...i32c(4), ...mul, ...set(plane),
    ...get(dst), ...set(o),
    ...whileNot(
      [...get(y), ...get(height), ...geU],
      [...get(src), ...set(p), ...get(src), ...get(width), ...i32c(3), ...mul, ...add, ...set(end), ...pixelLoop, ...inc(src, get(stride)), ...inc(y, i32c(1))],
    ),
  ];
  return func(6, [[5, I32]], body);
}

/**
 * Pages the shared linear memory may grow to (4 GiB, the wasm32 limit; a shared memory must declare
 * one). Only address space is reserved up front: V8 reserves far more than this per wasm memory anyway
 * (guard regions), and pages are committed as `grow` touches them.
 */
const MAX_PAGES = 65536;

/**
 * The module's bytes: functions "hpass", "vpass" and "norm" over an imported SHARED memory
 * ("env" "memory"), so a helper thread can run the same kernels on the same pixels (resize-helper.ts).
 */
export function resampleModuleBytes(): Uint8Array {
  const fns = [hpass(), vpass(), norm()];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(fns.map((f) => f.type))),
    // import "env" "memory": memory, limits flag 3 = shared with a maximum.
    ...section(2, vec([[...str('env'), ...str('memory'), 0x02, 0x03, ...uleb(1), ...uleb(MAX_PAGES)]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec([[...str('hpass'), 0x00, 0], [...str('vpass'), 0x00, 1], [...str('norm'), 0x00, 2]])),
    ...section(10, vec(fns.map((f) => f.code))),
  ];
  return new Uint8Array(bytes);
}

/** The slice of the WebAssembly JS API used here (the project's TypeScript lib has no DOM types). */
export interface WasmMemory {
  buffer: ArrayBufferLike;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export interface ResampleKernels {
  memory: WasmMemory;
  hpass(src: number, srcStride: number, rows: number, outW: number, bounds: number, kk: number, groups: number, dst: number): void;
  vpass(src: number, stride: number, outH: number, bounds: number, kk4: number, ksize: number, dst: number, lastX: number): void;
  norm(src: number, stride: number, width: number, height: number, lut: number, dst: number): void;
}

let compiled: object | undefined;

/** The compiled module (well under 1 ms), shared per thread; a helper thread is sent the same one. */
export function kernelModule(): object {
  compiled ??= new wasm.Module(resampleModuleBytes());
  return compiled;
}

/** An instance over `memory` (a fresh shared memory when not given). */
export function instantiateKernels(memory: WasmMemory = new wasm.Memory({ initial: 1, maximum: MAX_PAGES, shared: true })): ResampleKernels {
  const exports = new wasm.Instance(kernelModule(), { env: { memory } }).exports as Omit<ResampleKernels, 'memory'>;
  return { memory, hpass: exports.hpass, vpass: exports.vpass, norm: exports.norm };
}
