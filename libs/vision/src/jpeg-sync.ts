/**
 * Small JPEGs decoded synchronously on the calling thread (issue 19): libjpeg-turbo built to
 * WebAssembly (@cornerstonejs/codec-libjpeg-turbo-8bit: TurboJPEG's tjDecompress2 with flags 0, i.e.
 * the ISLOW IDCT and fancy upsampling — the decoder and settings of PIL's libjpeg-turbo and of sharp's
 * mozjpeg, so the same RGB bytes; tested against sharp's path on every sampling and PIL's fixtures).
 *
 * Why: a 0.3 MP decode through sharp is ~2 ms of work but crosses the event loop → libuv pool →
 * libvips worker hand-offs (~32–38 context switches per image); after the threads slept (between
 * requests) those wake-ups cost about as much as the decode. The wasm build has no SIMD, so per pixel
 * it is slower than sharp from ~1 MP on (CPU per decode, load ~6: 640×480 4.2 vs 5.7 ms, 1024×768
 * 9.7 vs 9.8 ms); only images up to SYNC_JPEG_MAX_PIXELS take it.
 *
 * Exact for every JPEG whose dequantised DCT coefficients fit 16 bits, i.e. every file an encoder wrote
 * from pixels. A corrupted file that libjpeg decodes without any warning can carry larger ones; there
 * libjpeg-turbo's own SIMD IDCT (sharp's, and PIL's on x86) and its C IDCT (this wasm build) disagree:
 * 27 of 881 randomly mutated fixtures, each reproduced exactly by djpeg with and without
 * JSIMD_FORCENONE=1, so on such files even PIL's pixels depend on the CPU it runs on.
 *
 * It answers only when it gives what sharp's path gives; anything else (not loaded yet, EXIF
 * orientation ≠ 1, CMYK/YCCK, 12-bit, any libjpeg error or warning, too many scans) returns undefined
 * and the caller decodes with sharp, which accepts or refuses exactly as before.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

/** Default largest JPEG (pixels, from the header) decoded here (ImageLimits.syncJpegMaxPixels); ~0.5 MP keeps the CPU at or below sharp's. */
export const SYNC_JPEG_MAX_PIXELS = 500_000;
/** Larger files go to sharp: 0.5 MP is ≤ 1.5 MB raw, so more is metadata or trailing data. */
const SYNC_JPEG_MAX_BYTES = 4 << 20;
/**
 * A progressive JPEG with thousands of scans is a known CPU bomb at a small size; sharp's path has a
 * decode time limit, a synchronous call cannot. Real files have 1–3 (baseline) or ~10 (progressive).
 */
const SYNC_JPEG_MAX_SCANS = 32;

interface TurboDecoder {
  getEncodedBuffer(size: number): Uint8Array;
  getDecodedBuffer(): Uint8ClampedArray;
  getFrameInfo(): { width: number; height: number; componentCount: number };
  decode(): void;
}

/** The slice of the WebAssembly JS API used here (the project's TypeScript lib has no DOM types). */
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
/** The Emscripten module factory, with its hook for instantiating a module compiled here. */
type Factory = (m: { instantiateWasm(imports: object, done: (instance: object, module: object) => void): object }) => Promise<{ JPEGDecoder: new () => TurboDecoder }>;

/** The wasm shadow stack pointer: get and set (Emscripten's stackSave / stackRestore). */
interface StackPointer {
  get(): number;
  set(sp: number): void;
}

let decoder: TurboDecoder | undefined;
let stack: StackPointer | undefined;
let errorsSinceLoad = 0;
let loading: Promise<boolean> | undefined;
/** Compiled once per thread: a replaced instance costs an instantiation (~2–9 ms), not a compile. */
let compiled: { factory: Factory; module: object } | undefined;

/**
 * A libjpeg error is a C++ throw that unwinds the wasm frames from JS without restoring the shadow stack
 * pointer (16 bytes lost per error, measured; the stack is ~64 KiB) and leaks the exception object on
 * the heap. So the pointer is saved before each decode and put back after an error, and the instance is
 * replaced after this many errors (bounding the heap leak). Without a usable stack pointer (a build
 * whose exports differ), every error replaces the instance.
 */
const ERRORS_PER_INSTANCE = 1000;

/**
 * The stack pointer functions of this build (1.2.8 exports stackRestore as "U" and stackSave as "W",
 * minified), accepted only if they behave as such: setting a value reads it back.
 */
function stackPointerOf(exports: Record<string, unknown>): StackPointer | undefined {
  const [get, set] = [exports.W, exports.U];
  if (typeof get !== 'function' || typeof set !== 'function') return undefined;
  try {
    const sp = get() as unknown;
    if (typeof sp !== 'number' || sp <= 64) return undefined;
    set(sp - 16);
    const moved = get() === sp - 16;
    set(sp);
    return moved && get() === sp ? { get: () => get() as number, set: (v) => void set(v) } : undefined;
  } catch {
    return undefined;
  }
}

/** Loads this thread's decoder (~300 KB of wasm); false where it cannot load (then sharp decodes everything). */
export function loadJpegDecoder(): Promise<boolean> {
  loading ??= (async () => {
    try {
      if (!compiled) {
        const require = createRequire(import.meta.url);
        const factory = require('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs') as Factory;
        const module = await wasm.compile(readFileSync(require.resolve('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm')));
        compiled = { factory, module };
      }
      const { factory, module } = compiled;
      let exports: Record<string, unknown> = {};
      const m = await factory({
        instantiateWasm(imports, done) {
          const instance = new wasm.Instance(module, imports);
          exports = instance.exports;
          done(instance, module);
          return {};
        },
      });
      decoder = new m.JPEGDecoder();
      stack = stackPointerOf(exports);
      errorsSinceLoad = 0;
      return true;
    } catch {
      return false;
    }
  })();
  return loading;
}

let warmed = false;

/**
 * Decodes `jpeg` (`width`×`height`, photo-like) until V8 runs the decoder in optimised code, at most
 * `budgetMs`, once per thread. V8 starts wasm functions in its baseline compiler and swaps in optimised
 * code only after a background compile (the largest decoder function: ~100 ms of compile): a 0.3 MP photo
 * decoded 9–10 ms per image for its first 30–45 decodes, then 2.2 ms. Done when the last three decodes
 * each take under half of the early ones. Returns the decodes run.
 */
export async function warmJpegDecoder(jpeg: Uint8Array, width: number, height: number, budgetMs = 2000): Promise<number> {
  if (warmed) return 0;
  warmed = true;
  const times: number[] = [];
  for (const t0 = performance.now(); performance.now() - t0 < budgetMs; ) {
    const t = performance.now();
    if (!decodeJpegSync(jpeg, width, height)) break;
    times.push(performance.now() - t);
    const early = times.slice(1, 4).sort((a, b) => a - b)[1];
    if (times.length >= 8 && times.slice(-3).every((x) => x < early / 2)) break;
    // Let the event loop (and the background compile) run between decodes.
    await new Promise((r) => setImmediate(r));
  }
  return times.length;
}

/** The decoder's shadow stack pointer (tests: unchanged by errors), undefined where not tracked. */
export function jpegStackPointer(): number | undefined {
  return stack?.get();
}

/**
 * Packed RGB of a JPEG whose stored size (from its SOF, checked against the limits by the caller) is
 * `width`×`height`, or undefined: then decode with sharp (see the file comment). Larger than `maxPixels`: undefined.
 */
export function decodeJpegSync(bytes: Uint8Array, width: number, height: number, maxPixels = SYNC_JPEG_MAX_PIXELS): Uint8Array | undefined {
  if (width * height > maxPixels || bytes.length > SYNC_JPEG_MAX_BYTES) return undefined;
  if (!decoder) {
    void loadJpegDecoder();
    return undefined;
  }
  if (!plainJpeg(bytes)) return undefined;
  const sp = stack?.get();
  try {
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    decoder.decode();
  } catch {
    // TurboJPEG fails on warnings too (truncated data, extraneous bytes); see ERRORS_PER_INSTANCE.
    if (stack && sp !== undefined && ++errorsSinceLoad < ERRORS_PER_INSTANCE) {
      stack.set(sp);
    } else {
      decoder = undefined;
      loading = undefined;
    }
    return undefined;
  }
  const info = decoder.getFrameInfo();
  if (info.width !== width || info.height !== height) return undefined;
  const view = decoder.getDecodedBuffer(); // a Uint8ClampedArray into wasm memory
  const out = new Uint8Array(view.buffer, view.byteOffset, view.length);
  // A copy: the next decode on this thread overwrites that memory.
  if (info.componentCount === 3) return out.slice();
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < out.length; i++, j += 3) rgb[j] = rgb[j + 1] = rgb[j + 2] = out[i];
  return rgb;
}

/**
 * Whether the header segments hold nothing this path would treat differently from sharp's: EXIF
 * orientation absent or 1 (sharp rotates, TurboJPEG does not), one Exif block at most, at most
 * SYNC_JPEG_MAX_SCANS scans. Anything unusual answers false.
 */
export function plainJpeg(b: Uint8Array): boolean {
  const u16 = (i: number) => (b[i] << 8) | b[i + 1];
  let i = 2;
  let exif = false;
  for (;;) {
    if (i + 4 > b.length || b[i] !== 0xff) return false;
    const m = b[i + 1];
    if (m === 0xff) {
      i++; // fill byte
      continue;
    }
    if (m === 0xda) break; // first scan: the header segments are done
    if (m === 0xd8 || m === 0xd9 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) return false;
    const len = u16(i + 2);
    if (len < 2 || i + 2 + len > b.length) return false;
    // APP1 "Exif\0\0"
    if (m === 0xe1 && len >= 8 && u16(i + 4) === 0x4578 && u16(i + 6) === 0x6966 && u16(i + 8) === 0) {
      if (exif || exifOrientation(b.subarray(i + 10, i + 2 + len)) !== 1) return false;
      exif = true;
    }
    i += 2 + len;
  }
  // In entropy-coded data a 0xFF byte is followed by 0x00 (stuffing) or a marker, so FF DA is a scan.
  let scans = 0;
  for (let j = b.indexOf(0xff, i); j >= 0 && j + 1 < b.length; ) {
    const next = b[j + 1];
    if (next === 0xda && ++scans > SYNC_JPEG_MAX_SCANS) return false;
    j = b.indexOf(0xff, next === 0xff ? j + 1 : j + 2); // FF FF DA: fill bytes before a marker
  }
  return true;
}

/** Orientation (IFD0 tag 0x0112) of a TIFF block: 1 where absent, 0 where unreadable. */
function exifOrientation(t: Uint8Array): number {
  if (t.length < 8) return 0;
  const le = t[0] === 0x49 && t[1] === 0x49;
  if (!le && !(t[0] === 0x4d && t[1] === 0x4d)) return 0;
  const u16 = (i: number) => (le ? t[i] | (t[i + 1] << 8) : (t[i] << 8) | t[i + 1]);
  const u32 = (i: number) => (le ? u16(i) + u16(i + 2) * 65536 : u16(i) * 65536 + u16(i + 2));
  if (u16(2) !== 42) return 0;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return 0;
  const n = u16(ifd);
  if (ifd + 2 + n * 12 > t.length) return 0;
  for (let k = 0; k < n; k++) {
    const e = ifd + 2 + k * 12;
    // SHORT, count 1: the value is the value field's first two bytes.
    if (u16(e) === 0x0112) return u16(e + 2) === 3 && u32(e + 4) === 1 ? u16(e + 8) : 0;
  }
  return 1;
}
