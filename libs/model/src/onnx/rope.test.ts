/**
 * RoPE as torch computes it in float32 (HF Qwen2RotaryEmbedding): keys at position 8000 from our
 * decoder graph's tables within 1e-5 of a float32-torch-style computation. The old float64 inv_freq
 * moved them by ~1.7e-4 there.
 */
import { describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../ensure-tiny-model.js';
import { openModel } from '../runtime/open-model.js';
import { runStageRaw } from '../runtime/run-stage-raw.js';
import { ropeInvFreq } from './decoder-graph.js';

const f = Math.fround;

/** torch: inv_freq = 1 / base ** (arange(0, d, 2).float() / d), every op in float32. */
function torchInvFreq(d: number, base: number): Float32Array {
  const out = new Float32Array(d / 2);
  for (let i = 0; i < d / 2; i++) {
    const e = f(f(2 * i) / f(d));
    out[i] = f(1 / f(Math.pow(f(base), e)));
  }
  return out;
}

/** Rotates one head's key [d] at `pos` with cos/sin of float32 angles (pos · inv_freq in float32), as the graph does. */
function rotate(k: Float32Array, pos: number, inv: Float32Array): Float32Array {
  const h = k.length / 2;
  const out = new Float32Array(k.length);
  for (let i = 0; i < h; i++) {
    const a = f(f(pos) * inv[i]!);
    const c = f(Math.cos(a));
    const s = f(Math.sin(a));
    out[i] = f(f(k[i]! * c) - f(k[i + h]! * s));
    out[i + h] = f(f(k[i + h]! * c) + f(k[i]! * s));
  }
  return out;
}

describe('RoPE inv_freq (float32 as torch)', () => {
  it('keys at position 8000 are within 1e-5 of the torch float32 computation (head_dim 128, theta 1e6)', () => {
    const d = 128;
    const key = Float32Array.from({ length: d }, (_, i) => Math.sin(i * 0.7) * 0.9);
    const ours = rotate(key, 8000, ropeInvFreq(d, 1_000_000));
    const torch = rotate(key, 8000, torchInvFreq(d, 1_000_000));
    let max = 0;
    for (let i = 0; i < d; i++) max = Math.max(max, Math.abs(ours[i]! - torch[i]!));
    expect(max).toBeLessThanOrEqual(1e-5);
    // The float64 computation it replaced is measurably off there (so this test can fail).
    const f64 = Float32Array.from({ length: d / 2 }, (_, i) => 1 / Math.pow(1_000_000, (2 * i) / d));
    const old = rotate(key, 8000, f64);
    let oldMax = 0;
    for (let i = 0; i < d; i++) oldMax = Math.max(oldMax, Math.abs(old[i]! - torch[i]!));
    expect(oldMax).toBeGreaterThan(1e-5);
  });

  it('the decoder graph rotates keys at position 8000 as torch float32 does', async () => {
    const m = await openModel(await ensureTinyModel(), { intraOpNumThreads: 1 });
    const { hiddenSize: H, headDim: d, ropeTheta } = m.config.llm;
    const x = Float32Array.from({ length: H }, (_, i) => Math.cos(i * 0.3));
    const keyAt = async (pos: number): Promise<Float32Array> => {
      const out = await runStageRaw(m, 'decoder', { inputs_embeds: { dtype: 'float32', shape: [1, 1, H], data: x }, position_ids: { dtype: 'int64', shape: [1, 1], data: BigInt64Array.of(BigInt(pos)) } });
      return (out['new_key.0']!.data as Float32Array).subarray(0, d); // kv head 0
    };
    const k0 = await keyAt(0); // cos 0 = 1, sin 0 = 0: the unrotated key
    const k8000 = await keyAt(8000);
    const torch = rotate(k0, 8000, torchInvFreq(d, ropeTheta));
    let max = 0;
    for (let i = 0; i < d; i++) max = Math.max(max, Math.abs(k8000[i]! - torch[i]!));
    expect(max).toBeLessThanOrEqual(1e-5);
    await m.release();
  });
});
