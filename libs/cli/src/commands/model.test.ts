/**
 * `tessera model` end to end on the cached tiny checkpoint: build with external data (the path the
 * bench preset and real checkpoints take), inspect, and run-stage through .npz files compared with the
 * typed stage API on the inline-weights build.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpz, ensureTinyModelPaths, openModel, parseNpy, parseNpz, readManifest } from '@tessera/model';
import { main } from '../main.js';

const tmp = mkdtempSync(join(tmpdir(), 'tessera-cli-model-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('tessera model', () => {
  it('build (external data) → inspect → run-stage embed and decoder via .npz', async () => {
    const paths = await ensureTinyModelPaths();
    const out = join(tmp, 'built');
    expect(await main(['model', 'build', '--checkpoint', paths.checkpoint, '--out', out, '--external-data-threshold', '0'])).toBe(0);
    const m = readManifest(out);
    expect(m.stages.decoder.externalData).toBe('decoder.onnx.data');
    expect(m.revision).toBe(readManifest(paths.model).revision);
    expect(await main(['model', 'inspect', out])).toBe(0);
    expect(await main(['model', 'inspect', paths.checkpoint])).toBe(0);

    const ids = BigInt64Array.from([151644n, 872n, 198n, 9707n]);
    writeFileSync(join(tmp, 'in.npz'), encodeNpz({ input_ids: { dtype: 'int64', shape: [1, 4], data: ids } }));
    expect(await main(['model', 'run-stage', '--model', out, '--stage', 'embed', '--inputs', join(tmp, 'in.npz'), '--out', join(tmp, 'emb.npz')])).toBe(0);
    const emb = parseNpz(readFileSync(join(tmp, 'emb.npz'))).inputs_embeds;
    expect(emb.shape).toEqual([1, 4, 128]);

    writeFileSync(join(tmp, 'dec.npz'), encodeNpz({ inputs_embeds: emb, attention_mask: { dtype: 'int64', shape: [1, 4], data: BigInt64Array.from([1n, 1n, 1n, 1n]) }, position_ids: { dtype: 'int64', shape: [1, 4], data: BigInt64Array.from([0n, 1n, 2n, 3n]) } }));
    expect(await main(['model', 'run-stage', '--model', out, '--stage', 'decoder', '--inputs', join(tmp, 'dec.npz'), '--out', join(tmp, 'dec-out')])).toBe(0);
    const logitsNpy = parseNpy(readFileSync(join(tmp, 'dec-out', 'logits.npy')));
    expect(logitsNpy.shape).toEqual([1, 151666]);
    const logits = logitsNpy.data as Float32Array;

    // Same numbers as the typed API on the inline-weights build.
    const model = await openModel(paths.model, { intraOpNumThreads: 1 });
    const e2 = await model.embed.run(ids, [1, 4]);
    expect(Array.from(emb.data as Float32Array)).toEqual(Array.from(e2));
    const d2 = { logits: await model.decoder.forwardNoCache(e2, [4]) };
    expect(logits.length).toBe(d2.logits.length);
    let maxDiff = 0;
    for (let i = 0; i < logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i] - d2.logits[i]));
    expect(maxDiff).toBeLessThan(1e-5);
    await model.release();
  });

  it('refuses bad arguments naming the flag (bad values are usage errors: exit 2)', async () => {
    expect(await main(['model', 'run-stage', '--model', tmp, '--stage', 'nope', '--inputs', 'x', '--out', 'y'])).toBe(2);
    expect(await main(['model', 'generate-tiny', '--out', join(tmp, 'g'), '--preset', 'huge'])).toBe(2);
    expect(await main(['model', 'build', '--checkpoint', join(tmp, 'missing'), '--out', join(tmp, 'o')])).toBe(1);
  });
});
