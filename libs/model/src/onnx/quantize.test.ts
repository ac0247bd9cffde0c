/**
 * Weight-only int8/int4 (MatMulNBits): the packed layout is checked by running one quantised linear in
 * ORT against a float64 product with the dequantised weights, and a whole int4 tiny build against fp32.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel, dequantize, ensureTinyModelPaths, GraphBuilder, openModel, quantizeBlockwise, sessionOptions, WeightSink } from '../index.js';
import { linear } from './layers.js';

const tmp = mkdtempSync(join(tmpdir(), 'tessera-quant-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('MatMulNBits weight-only quantisation', () => {
  for (const fmt of ['int8', 'int4'] as const) {
    it(`${fmt}: ORT output equals x·dequant(W)ᵀ + b`, async () => {
      const N = 48;
      const K = 96;
      const M = 3;
      const w = new Float32Array(N * K).map((_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
      const b = new Float32Array(N).map((_, i) => i / 10);
      const g = new GraphBuilder('q', new WeightSink(null), fmt);
      g.input('x', 'float32', [M, K]);
      g.output(linear(g, 'x', 'lin', w, N, K, b), 'y', 'float32', [M, N]);
      const path = join(tmp, `${fmt}.onnx`);
      g.save(path);
      const s = await ort.InferenceSession.create(path, sessionOptions({ intraOpNumThreads: 1 }));
      const x = new Float32Array(M * K).map((_, i) => Math.cos(i * 0.3));
      const y = (await s.run({ x: new ort.Tensor('float32', x, [M, K]) })).y.data as Float32Array;
      await s.release();
      const dq = dequantize(quantizeBlockwise(w, N, K, fmt === 'int4' ? 4 : 8));
      let maxErr = 0;
      let quantErr = 0;
      let scale = 0;
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
        let ref = b[n];
        let exact = b[n];
        for (let k = 0; k < K; k++) {
          ref += x[m * K + k] * dq[n * K + k];
          exact += x[m * K + k] * w[n * K + k];
        }
        maxErr = Math.max(maxErr, Math.abs(y[m * N + n] - ref));
        scale = Math.max(scale, Math.abs(ref));
        quantErr = Math.max(quantErr, Math.abs(ref - exact));
      }
      // accuracy_level 4 also quantises activations to int8 per block: ≤ 1 % of the output scale.
      expect(maxErr).toBeLessThanOrEqual(1e-2 * scale);
      expect(quantErr).toBeGreaterThan(0); // the quantised product really differs from fp32
    });
  }

  it('an int4 decoder build tracks the fp32 logits and its cache agrees with recomputation', { timeout: 180_000 }, async () => {
    const paths = await ensureTinyModelPaths();
    const out = join(tmp, 'int4');
    const manifest = await buildModel(paths.checkpoint, out, { decoderWeights: 'int4' });
    expect(manifest.precision).toBe('decoder-int4');
    const m4 = await openModel(out, { intraOpNumThreads: 1 });
    const m32 = await openModel(paths.model, { intraOpNumThreads: 1 });
    expect(m4.manifest.stages.decoder.weightBytes).toBeLessThan(m32.manifest.stages.decoder.weightBytes / 5);
    const ids = [151644, 872, 198, 9707, 11, 1879, 0];
    const e = await m32.embed.run(ids, [1, ids.length]);
    const a = await m4.decoder.forwardNoCache(e, [ids.length]);
    const r = { logits: await m32.decoder.forwardNoCache(e, [ids.length]) };
    // Pearson correlation of the two logit vectors.
    const n = a.length;
    let ma = 0, mb = 0;
    for (let i = 0; i < n; i++) { ma += a[i]; mb += r.logits[i]; }
    ma /= n; mb /= n;
    let sab = 0, saa = 0, sbb = 0;
    for (let i = 0; i < n; i++) { sab += (a[i] - ma) * (r.logits[i] - mb); saa += (a[i] - ma) ** 2; sbb += (r.logits[i] - mb) ** 2; }
    expect(sab / Math.sqrt(saa * sbb)).toBeGreaterThan(0.9);
    // Cached step == full recompute in the int4 graph.
    m4.decoder.allocate({ numBlocks: 4, blockSize: 4, numStateSlots: 1 });
    await m4.decoder.step({ batch: 1, seqLen: 6, inputsEmbeds: e.subarray(0, 6 * 128), pastLengths: [0], queryLengths: [6], blockTables: [[2, 0]] });
    const step = { logits: await m4.decoder.step({ batch: 1, seqLen: 1, inputsEmbeds: e.subarray(6 * 128), pastLengths: [6], queryLengths: [1], blockTables: [[2, 0]] }) };
    let d = 0;
    for (let i = 0; i < n; i++) d = Math.max(d, Math.abs(step.logits[i] - a[i]));
    expect(d).toBeLessThan(1e-4);
    await m4.release();
    await m32.release();
  });
});
