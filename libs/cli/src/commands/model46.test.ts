/**
 * `tessera model` on MiniCPM-V 4.6: generate-tiny --family 4.6 + inspect, run-stage of the hybrid
 * decoder with explicit state: a prefill's outputs (a directory of .npy, minus logits) fed back with one
 * more token give the same logits as a prefill over all tokens (.npz); and run-stage of the vision stage
 * with `--mode` in the HF processor's format (a directory of .npy in and out).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy, encodeNpz, ensureTinyModel46Paths, packSlices, parseNpy, parseNpz, readAnyCheckpoint, readAnyManifest, type NdArray } from '@tessera/model';
import { main } from '../main.js';

const tmp = mkdtempSync(join(tmpdir(), 'tessera-cli-46-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('tessera model (4.6)', () => {
  it('generate-tiny --family 4.6 writes a checkpoint the reader accepts; inspect shows it', async () => {
    const dir = join(tmp, 'ckpt');
    expect(await main(['model', 'generate-tiny', '--family', '4.6', '--out', dir, '--shards', '1'])).toBe(0);
    expect(readAnyCheckpoint(dir).family).toBe('4.6');
    expect(await main(['model', 'inspect', dir])).toBe(0);
    expect(await main(['model', 'generate-tiny', '--family', '9.9', '--out', dir])).toBe(2);
  });

  it('run-stage decoder: prefill, then a decode step from the written state, equals one prefill', async () => {
    const { model } = await ensureTinyModel46Paths();
    expect(await main(['model', 'inspect', model])).toBe(0);
    const ids = [248045, 872, 198, 3838, 374, 419, 30];
    const npz = (name: string, arrays: Record<string, NdArray>): string => {
      writeFileSync(join(tmp, name), encodeNpz(arrays));
      return join(tmp, name);
    };
    const idsArr = (xs: number[]): NdArray => ({ dtype: 'int64', shape: [1, xs.length], data: BigInt64Array.from(xs.map(BigInt)) });
    const run = async (inputs: string, out: string): Promise<Record<string, NdArray>> => {
      expect(await main(['model', 'run-stage', '--model', model, '--stage', 'decoder', '--inputs', inputs, '--out', join(tmp, out)])).toBe(0);
      return parseNpz(readFileSync(join(tmp, out)));
    };
    const all = await run(npz('all.npz', { input_ids: idsArr(ids) }), 'all-out.npz');
    // The prefill's state goes out as a directory of .npy and comes back in as one (the step's input dir).
    const headDir = join(tmp, 'head-out');
    expect(await main(['model', 'run-stage', '--model', model, '--stage', 'decoder', '--inputs', npz('head.npz', { input_ids: idsArr(ids.slice(0, -1)) }), '--out', headDir])).toBe(0);
    expect(readdirSync(headDir)).toContain('recurrent_state.0.npy');
    expect(parseNpy(readFileSync(join(headDir, 'past_key_values.3.key.npy'))).shape).toEqual([1, 2, ids.length - 1, 32]);
    unlinkSync(join(headDir, 'logits.npy'));
    writeFileSync(join(headDir, 'input_ids.npy'), encodeNpy(idsArr(ids.slice(-1))));
    expect(await main(['model', 'run-stage', '--model', model, '--stage', 'decoder', '--inputs', headDir, '--out', join(tmp, 'step-out.npz')])).toBe(0);
    const step = parseNpz(readFileSync(join(tmp, 'step-out.npz')));
    const a = all.logits.data as Float32Array;
    const b = step.logits.data as Float32Array;
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    expect(d).toBeLessThanOrEqual(1e-4);
    expect(step['past_key_values.3.key'].shape).toEqual([1, 2, ids.length, 32]);
    // A stage the family does not have is refused, naming the flag.
    expect(await main(['model', 'run-stage', '--model', model, '--stage', 'resampler', '--inputs', join(tmp, 'all.npz'), '--out', join(tmp, 'x.npz')])).toBe(2);
  });

  it('run-stage vision --mode: HF-format .npy in, image_embeds .npy out; 4x gives 4× the rows of 16x; a mode the family lacks is refused', async () => {
    const { model } = await ensureTinyModel46Paths();
    const hidden = (readAnyManifest(model) as { config: { text: { hiddenSize: number } } }).config.text.hiddenSize;
    // One 112×168 crop (8×12 patches): 16x → (112/56)·(168/56) = 6 tokens, 4x → (112/28)·(168/28) = 24.
    const crop = { height: 112, width: 168, data: Float32Array.from({ length: 3 * 112 * 168 }, (_, i) => Math.sin(i * 0.01) * 0.8) };
    const packed = packSlices([crop]);
    const inDir = join(tmp, 'vision-in');
    mkdirSync(inDir);
    writeFileSync(join(inDir, 'pixel_values.npy'), encodeNpy({ dtype: 'float32', shape: [1, 3, 14, packed.numPatches * 14], data: packed.pixelValues }));
    writeFileSync(join(inDir, 'target_sizes.npy'), encodeNpy({ dtype: 'int32', shape: [1, 2], data: Int32Array.from(packed.tgtSizes[0]!) }));
    const embeds = async (mode: string): Promise<NdArray> => {
      expect(await main(['model', 'run-stage', '--model', model, '--stage', 'vision', '--mode', mode, '--inputs', inDir, '--out', join(tmp, `vision-${mode}`)])).toBe(0);
      return parseNpy(readFileSync(join(tmp, `vision-${mode}`, 'image_embeds.npy')));
    };
    const [x16, x4] = [await embeds('16x'), await embeds('4x')];
    expect(x16.shape).toEqual([6, hidden]);
    expect(x4.shape).toEqual([24, hidden]);
    expect(Array.from(x16.data as Float32Array).every(Number.isFinite)).toBe(true);
    expect(await main(['model', 'run-stage', '--model', model, '--stage', 'vision', '--mode', '8x', '--inputs', inDir, '--out', join(tmp, 'vision-8x')])).toBe(2);
  });
});
