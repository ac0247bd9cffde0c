/**
 * TEST ORACLE — not used by the service. A frozen copy of the preprocessing as it was before
 * issue 19 (pure-JS Pillow-exact BICUBIC, crop copies, per-image toChannelFirst), kept so tests can
 * check that the faster path gives float output equal to the previous implementation's, bit for bit.
 * Do not optimise or change it.
 */
import type { Normalization } from '../preprocessor-config.js';
import type { SliceBox, SlicePlan } from '../slice-plan.js';

const PRECISION_BITS = 22; // 32 - 8 - 2 in Pillow
const HALF = 1 << (PRECISION_BITS - 1);
const CLIP_MAX = 1 << (PRECISION_BITS + 8);

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

function clip8(v: number): number {
  if (v >= CLIP_MAX) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

/** Resizes packed RGB (3 bytes per pixel, row-major) from w×h to outW×outH. */
export function resizeBicubicRgbV1(src: Uint8Array, w: number, h: number, outW: number, outH: number): Uint8Array {
  if (src.length !== w * h * 3) throw new Error(`resizeBicubicRgb: buffer is ${src.length} bytes, expected ${w}×${h}×3`);
  if (outW === w && outH === h) return src.slice();
  const horiz = outW !== w;
  const vert = outH !== h;
  const cv = precompute(h, outH);
  let img = src;

  if (horiz) {
    const ch = precompute(w, outW);
    // Only rows the vertical pass reads are resampled horizontally (Pillow's ybox_first/last).
    const yFirst = vert ? cv.bounds[0] : 0;
    const yLast = vert ? cv.bounds[outH * 2 - 2] + cv.bounds[outH * 2 - 1] : h;
    if (vert) for (let i = 0; i < outH; i++) cv.bounds[i * 2] -= yFirst;
    const rows = yLast - yFirst;
    const tmp = new Uint8Array(outW * rows * 3);
    const { ksize, bounds, kk } = ch;
    for (let yy = 0; yy < rows; yy++) {
      const rowIn = (yy + yFirst) * w * 3;
      const rowOut = yy * outW * 3;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = bounds[xx * 2];
        const xmax = bounds[xx * 2 + 1];
        const k0 = xx * ksize;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = rowIn + xmin * 3;
        for (let x = 0; x < xmax; x++, p += 3) {
          const k = kk[k0 + x];
          s0 += src[p] * k;
          s1 += src[p + 1] * k;
          s2 += src[p + 2] * k;
        }
        const o = rowOut + xx * 3;
        tmp[o] = clip8(s0);
        tmp[o + 1] = clip8(s1);
        tmp[o + 2] = clip8(s2);
      }
    }
    img = tmp;

  }
  if (!vert) return img;
  const out = new Uint8Array(outW * outH * 3);
  const { ksize, bounds, kk } = cv;
  const stride = outW * 3;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2];
    const ymax = bounds[yy * 2 + 1];
    const k0 = yy * ksize;
    const rowOut = yy * stride;
    for (let xx = 0; xx < stride; xx++) {
      let s = HALF;
      let p = ymin * stride + xx;
      for (let y = 0; y < ymax; y++, p += stride) s += img[p] * kk[k0 + y];
      out[rowOut + xx] = clip8(s);
    }
  }
  return out;
}


interface Rgb {
  rgb: Uint8Array;
  width: number;
  height: number;
}

function cropRgbV1(src: Rgb, box: SliceBox): Rgb {
  const out = new Uint8Array(box.width * box.height * 3);
  const rowBytes = box.width * 3;
  for (let y = 0; y < box.height; y++) {
    const from = ((box.y + y) * src.width + box.x) * 3;
    out.set(src.rgb.subarray(from, from + rowBytes), y * rowBytes);
  }
  return { rgb: out, width: box.width, height: box.height };
}

/** The old sliceDecoded: overview and refine resized from the decoded original, slices cropped. */
export function sliceDecodedV1(img: Rgb, plan: SlicePlan): Rgb[] {
  const o = plan.overview;
  const images: Rgb[] = [{ rgb: resizeBicubicRgbV1(img.rgb, img.width, img.height, o.width, o.height), width: o.width, height: o.height }];
  if (plan.refine) {
    const r = plan.refine;
    const refine = { rgb: resizeBicubicRgbV1(img.rgb, img.width, img.height, r.width, r.height), width: r.width, height: r.height };
    for (const box of plan.slices) images.push(cropRgbV1(refine, box));
  }
  return images;
}

/** The old toChannelFirst. */
export function toChannelFirstV1(rgb: Uint8Array, width: number, height: number, norm: Normalization): Float32Array {
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const lut = new Float32Array(256);
    for (let x = 0; x < 256; x++) lut[x] = (Math.fround(x / 255) - norm.mean[c]) / norm.std[c];
    const base = c * plane;
    for (let i = 0; i < plane; i++) out[base + i] = lut[rgb[i * 3 + c]];
  }
  return out;
}
