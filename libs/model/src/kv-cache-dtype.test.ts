/**
 * KV cache dtype (build option kvCacheDtype, onnx/paged-decoder-io.ts): float16 and int8 pools against the
 * float64 reference on the tiny checkpoint — a chunked prefill (later chunks read the stored, converted
 * past) and cached greedy steps. float32 stays the faithful default (reference-parity.test.ts, ≤ 1e-4).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { argmaxRow, buildModel, ensureTinyModelPaths, openModel, readCheckpoint } from './index.js';
import { ReferenceModel } from './reference/reference-model.js';
import { maxAbsDiff } from '@tessera/testing/vitest';

const tmp = mkdtempSync(join(tmpdir(), 'tessera-kvdtype-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const prompt = [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198];
/** Max |logit − reference| over the run: measured 7.9e-4 (float16) and 1.9e-2 (int8) on the tiny model; ~3× margin. */
const BOUND = { float16: 3e-3, int8: 6e-2 } as const;

describe('KV cache dtype', () => {
  for (const dtype of ['float16', 'int8'] as const) {
    it(`${dtype}: pools of that type, chunked prefill + 8 cached greedy steps track the float64 reference`, { timeout: 240_000 }, async () => {
      const paths = await ensureTinyModelPaths();
      const out = join(tmp, dtype);
      const manifest = await buildModel(paths.checkpoint, out, { kvCacheDtype: dtype });
      const dec = manifest.stages.decoder;
      expect(dec.inputs.find((v) => v.name === 'key_cache.0')!.dtype).toBe(dtype);
      expect(dec.outputs.find((v) => v.name === 'new_value.0')!.dtype).toBe(dtype);
      expect(dec.inputs.some((v) => v.name === 'key_scale.0')).toBe(dtype === 'int8');
      const m = await openModel(out, { intraOpNumThreads: 1, allowSpinning: false });
      const m32 = await openModel(paths.model, { intraOpNumThreads: 1, allowSpinning: false });
      const ref = new ReferenceModel(readCheckpoint(paths.checkpoint));
      try {
        const hd = m.decoder.layout.headDim;
        expect(m.decoder.layout.kvDtype).toBe(dtype);
        // Bytes per block: half of float32, or a quarter plus one float32 scale per (head, token).
        expect(m.decoder.bytesPerBlock(16) / m32.decoder.bytesPerBlock(16)).toBeCloseTo(dtype === 'float16' ? 0.5 : (hd + 4) / (4 * hd), 10);

        m.decoder.allocate({ numBlocks: 32, blockSize: 4, numStateSlots: 1 });
        const table = [9, 3, 17, 0, 5, 22, 11, 30]; // blocks out of order
        const ids = [...prompt];
        let logits: Float32Array = new Float32Array(0);
        for (let at = 0; at < ids.length; at += 5) {
          const chunk = ids.slice(at, at + 5);
          const e = await m.embed.run(chunk, [1, chunk.length]);
          logits = await m.decoder.step({ batch: 1, seqLen: chunk.length, inputsEmbeds: e, pastLengths: [at], queryLengths: [chunk.length], blockTables: [table] });
        }
        let worst = maxAbsDiff(logits, ref.decoder(ref.embed(ids), ids.length));
        for (let i = 0; i < 8; i++) {
          const next = argmaxRow(logits, 0, m.decoder.vocabSize);
          ids.push(next);
          const e = await m.embed.run([next], [1, 1]);
          logits = await m.decoder.step({ batch: 1, seqLen: 1, inputsEmbeds: e, pastLengths: [ids.length - 1], queryLengths: [1], blockTables: [table] });
          worst = Math.max(worst, maxAbsDiff(logits, ref.decoder(ref.embed(ids), ids.length)));
        }
        console.log(`kv ${dtype}: max |logit − float64 reference| ${worst.toExponential(2)} over a 3-chunk prefill + 8 steps`);
        expect(worst).toBeLessThan(BOUND[dtype]);
        // Rounding is real: the stored past is not float32 (float32 pools stay within 1e-4 of the reference).
        expect(worst).toBeGreaterThan(1e-6);
      } finally {
        await m.release();
        await m32.release();
      }
    });
  }

  it('refuses an unknown dtype and non-paged graphs, naming kvCacheDtype', async () => {
    const paths = await ensureTinyModelPaths();
    await expect(buildModel(paths.checkpoint, join(tmp, 'bad'), { kvCacheDtype: 'fp8' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'kvCacheDtype' } });
    await expect(buildModel(paths.checkpoint, join(tmp, 'bad2'), { kvCacheDtype: 'int8', decoderGraph: 'contiguous' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'kvCacheDtype' } });
  });
});

