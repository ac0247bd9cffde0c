/**
 * Plain float64 building blocks for the reference forward. Slow and obvious on purpose: every loop
 * is the textbook formula, so a disagreement with ONNX points at the graph, not at this file.
 * Activations are Float64Array [rows, cols] row-major; weights are the checkpoint's Float32Array.
 */
export type Mat = Float64Array;

/** y = x·Wᵀ + b, W [out, in] as stored by torch Linear. */
export function linear(x: Mat, rows: number, inF: number, w: ArrayLike<number>, outF: number, b?: ArrayLike<number>): Mat {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      const wo = o * inF;
      const xr = r * inF;
      for (let i = 0; i < inF; i++) s += x[xr + i] * w[wo + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}

/** y = x·M for a raw [in, out] matrix (resampler.proj). */
export function matmulRaw(x: Mat, rows: number, inF: number, m: ArrayLike<number>, outF: number): Mat {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) for (let i = 0; i < inF; i++) {
    const xv = x[r * inF + i];
    for (let o = 0; o < outF; o++) y[r * outF + o] += xv * m[i * outF + o];
  }
  return y;
}

export function layerNorm(x: Mat, rows: number, d: number, w: ArrayLike<number>, b: ArrayLike<number>, eps: number): Mat {
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[r * d + i];
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[r * d + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / d + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = (x[r * d + i] - mean) * inv * w[i] + b[i];
  }
  return y;
}

export function rmsNorm(x: Mat, rows: number, d: number, w: ArrayLike<number>, eps: number): Mat {
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let ms = 0;
    for (let i = 0; i < d; i++) ms += x[r * d + i] ** 2;
    const inv = 1 / Math.sqrt(ms / d + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = x[r * d + i] * inv * w[i];
  }
  return y;
}

export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
export const silu = (x: number): number => x / (1 + Math.exp(-x));

export function add(a: Mat, b: Mat): Mat {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
  return y;
}

/**
 * Multi-head attention for one sequence: q [Tq, H·hd], k/v [Tk, Hkv·hd]; query head h reads kv head
 * ⌊h / (H/Hkv)⌋; `allowed(i, j)` says whether query i may attend key j.
 */
export function attention(q: Mat, k: Mat, v: Mat, Tq: number, Tk: number, H: number, Hkv: number, hd: number, allowed: (i: number, j: number) => boolean): Mat {
  const out = new Float64Array(Tq * H * hd);
  const group = H / Hkv;
  const scale = 1 / Math.sqrt(hd);
  const s = new Float64Array(Tk);
  for (let h = 0; h < H; h++) {
    const kh = Math.floor(h / group);
    for (let i = 0; i < Tq; i++) {
      let max = -Infinity;
      for (let j = 0; j < Tk; j++) {
        if (!allowed(i, j)) {
          s[j] = -Infinity;
          continue;
        }
        let dot = 0;
        for (let e = 0; e < hd; e++) dot += q[i * H * hd + h * hd + e] * k[j * Hkv * hd + kh * hd + e];
        s[j] = dot * scale;
        if (s[j] > max) max = s[j];
      }
      let sum = 0;
      for (let j = 0; j < Tk; j++) {
        s[j] = s[j] === -Infinity ? 0 : Math.exp(s[j] - max);
        sum += s[j];
      }
      for (let j = 0; j < Tk; j++) {
        if (s[j] === 0) continue;
        const p = s[j] / sum;
        for (let e = 0; e < hd; e++) out[i * H * hd + h * hd + e] += p * v[j * Hkv * hd + kh * hd + e];
      }
    }
  }
  return out;
}
