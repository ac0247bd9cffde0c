/**
 * Checkpoint reading, the generator's determinism, and every bad-input case naming its file, tensor
 * or field. Bad checkpoints are the cached tiny checkpoint with one file replaced (others symlinked).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/errors';
import { ensureTinyModelPaths, expectedTensors, generateTinyCheckpoint, readCheckpoint, readSafetensorsHeader, writeSafetensors } from '../index.js';
import { tensorValues } from '../generate/generate-checkpoint.js';

let src: string;
const tmp = mkdtempSync(join(tmpdir(), 'tessera-ckpt-'));
beforeAll(async () => {
  src = (await ensureTinyModelPaths()).checkpoint;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A copy of the tiny checkpoint made of symlinks, with `replace` files written instead. */
function variant(replace: Record<string, Uint8Array | string | null>): string {
  const dir = join(tmp, `v${n++}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const f of readdirSync(src)) if (!(f in replace)) symlinkSync(join(src, f), join(dir, f));
  for (const [f, content] of Object.entries(replace)) if (content !== null) writeFileSync(join(dir, f), content);
  return dir;
}

function expectError(fn: () => unknown, ...mentions: string[]): TesseraError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraError);
    for (const m of mentions) expect((err as Error).message).toContain(m);
    return err as TesseraError;
  }
  throw new Error('expected a TesseraError');
}

describe('readCheckpoint', () => {
  it('reads the sharded tiny checkpoint lazily with per-part statistics', () => {
    const ck = readCheckpoint(src);
    expect(ck.weightFiles.map((f) => f.split('/').pop())).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(ck.tensors.size).toBe(3 + 16 * 2 + 2 + 13 + 2 + 12 * 2 + 1);
    expect(ck.parts.llm.parameters).toBe(2 * 151666 * 128 + 2 * (128 * 128 * 2 + 2 * 64 * 128 + 128 + 2 * 64 + 3 * 256 * 128 + 2 * 128) + 128);
    expect(ck.parts.vpm.bytes).toBe(ck.parts.vpm.parameters * 2);
    const q = ck.tensor('resampler.query');
    expect(q.length).toBe(64 * 128);
    expect(ck.config.resampler.numHeads).toBe(1);
    expect(ck.config.llm.headDim).toBe(32);
  });

  it('same seed ⇒ byte-identical files; another seed ⇒ other weights', async () => {
    const again = join(tmp, 'again');
    await generateTinyCheckpoint(again, { preset: 'tiny', seed: 0 });
    for (const f of readdirSync(src)) expect(readFileSync(join(again, f)).equals(readFileSync(join(src, f))), f).toBe(true);
    const t = expectedTensors(readCheckpoint(src).config).find((x) => x.name === 'llm.model.layers.0.self_attn.q_proj.weight')!;
    expect(Buffer.from(tensorValues(t, 0)).equals(Buffer.from(readCheckpoint(src).tensorBytes(t.name)))).toBe(true);
    expect(Buffer.from(tensorValues(t, 7)).equals(Buffer.from(tensorValues(t, 0)))).toBe(false);
  });

  it('reads a single-file model.safetensors (no index)', () => {
    const ck = readCheckpoint(src);
    const dir = variant({ 'model-00001-of-00002.safetensors': null, 'model-00002-of-00002.safetensors': null, 'model.safetensors.index.json': null });
    writeSafetensors(join(dir, 'model.safetensors'), [...ck.tensors.values()].map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, bytes: () => ck.tensorBytes(e.name) })));
    const single = readCheckpoint(dir);
    expect(single.weightFiles.map((f) => f.split('/').pop())).toEqual(['model.safetensors']);
    expect(single.tensor('resampler.proj')).toEqual(ck.tensor('resampler.proj'));
  });
});

describe('bad input is refused with the file, tensor or field named', () => {
  const shard1 = 'model-00001-of-00002.safetensors';
  const shard2 = 'model-00002-of-00002.safetensors';

  it('missing safetensors shard', () => {
    const dir = variant({ [shard1]: null });
    expectError(() => readCheckpoint(dir), shard1, 'missing');
  });

  it('missing weights altogether', () => {
    const replace: Record<string, null> = { [shard1]: null, [shard2]: null, 'model.safetensors.index.json': null };
    expectError(() => readCheckpoint(variant(replace)), 'no *.safetensors');
  });

  it('truncated safetensors', () => {
    const bytes = readFileSync(join(src, shard2));
    const dir = variant({ [shard2]: bytes.subarray(0, bytes.length - 1000) });
    const e = expectError(() => readCheckpoint(dir), shard2, 'truncated');
    expect(e.details.tensor).toBeTypeOf('string');
    const dir2 = variant({ [shard2]: bytes.subarray(0, 5) });
    expectError(() => readCheckpoint(dir2), shard2, 'truncated');
  });

  it('a tensor whose shape disagrees with config.json', () => {
    const cfg = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
    cfg.intermediate_size = 320;
    const e = expectError(() => readCheckpoint(variant({ 'config.json': JSON.stringify(cfg) })), 'llm.model.layers.0.mlp.gate_proj.weight', '[256,128]', '[320,128]');
    expect(e.details.field).toBe('llm.model.layers.0.mlp.gate_proj.weight');
  });

  it('an unsupported dtype', () => {
    const bytes = readFileSync(join(src, shard2));
    const len = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8'));
    const victim = Object.keys(header).find((k) => k !== '__metadata__')!;
    header[victim].dtype = 'I8';
    const json = Buffer.from(JSON.stringify(header).padEnd(len, ' '));
    expect(json.length).toBe(len);
    const dir = variant({ [shard2]: Buffer.concat([bytes.subarray(0, 8), json, bytes.subarray(8 + len)]) });
    const e = expectError(() => readCheckpoint(dir), victim, 'unsupported dtype', 'I8', shard2);
    expect(e.details.field).toBe(victim);
    expect(() => readSafetensorsHeader(join(dir, shard2))).toThrow(/I8/);
  });

  it('an unknown architecture', () => {
    const cfg = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
    cfg.architectures = ['LlavaForConditionalGeneration'];
    const e = expectError(() => readCheckpoint(variant({ 'config.json': JSON.stringify(cfg) })), 'architectures', 'LlavaForConditionalGeneration', 'config.json');
    expect(e.details.field).toBe('architectures');
  });

  it('a tokenizer without the MiniCPM-V special tokens', () => {
    const tj = JSON.parse(readFileSync(join(src, 'tokenizer.json'), 'utf8'));
    tj.added_tokens = tj.added_tokens.filter((t: { content: string }) => t.content !== '<slice>');
    const e = expectError(() => readCheckpoint(variant({ 'tokenizer.json': JSON.stringify(tj) })), 'tokenizer.json', '<slice>');
    expect(e.details.field).toContain('<slice>');
  });

  it('a missing required file', () => {
    expectError(() => readCheckpoint(variant({ 'preprocessor_config.json': null })), 'preprocessor_config.json');
  });
});
