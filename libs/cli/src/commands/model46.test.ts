/**
 * `tessera model` on MiniCPM-V 4.6: generate-tiny --family 4.6 + inspect, and run-stage of the hybrid
 * decoder with explicit state: a prefill's output file (minus logits) fed back with one more token
 * gives the same logits as a prefill over all tokens.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpz, ensureTinyModel46Paths, parseNpz, readAnyCheckpoint, type NdArray } from '@tessera/model';
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
    const head = await run(npz('head.npz', { input_ids: idsArr(ids.slice(0, -1)) }), 'head-out.npz');
    expect(Object.keys(head)).toContain('recurrent_state.0');
    expect(head['past_key_values.3.key'].shape).toEqual([1, 2, ids.length - 1, 32]);
    const { logits: _drop, ...state } = head;
    const step = await run(npz('step.npz', { ...state, input_ids: idsArr(ids.slice(-1)) }), 'step-out.npz');
    const a = all.logits.data as Float32Array;
    const b = step.logits.data as Float32Array;
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    expect(d).toBeLessThanOrEqual(1e-4);
    expect(step['past_key_values.3.key'].shape).toEqual([1, 2, ids.length, 32]);
    // A stage the family does not have is refused, naming the flag.
    expect(await main(['model', 'run-stage', '--model', model, '--stage', 'resampler', '--inputs', join(tmp, 'all.npz'), '--out', join(tmp, 'x.npz')])).toBe(2);
  });
});
