/** Family dispatch and the 4.6 config / checkpoint refusals, each naming the field or tensor. */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configJson } from '../generate/presets.js';
import { configJson46 } from './minicpmv4_6/presets.js';
import { parseConfig46 } from './minicpmv4_6/config.js';
import { detectFamily, FAMILIES, resolveTokenMode } from './registry.js';
import { generateTinyCheckpoint } from '../generate/generate-checkpoint.js';
import { readAnyCheckpoint } from '../checkpoint/read-checkpoint.js';
import { writeSafetensors, readSafetensorsHeader, readTensorBytes } from '../checkpoint/safetensors.js';

const fieldOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { details?: { field?: string } }).details?.field;
  }
  return undefined;
};
const with46 = (edit: (c: Record<string, any>) => void): Record<string, unknown> => {
  const c = structuredClone(configJson46('tiny')) as Record<string, any>;
  edit(c);
  return c;
};

describe('families', () => {
  it('dispatches on model_type / architectures / version', () => {
    expect(detectFamily(configJson('tiny')).id).toBe('2.6');
    expect(detectFamily(configJson46('tiny')).id).toBe('4.6');
    expect(FAMILIES['4.6'].hasResampler).toBe(false);
    expect(fieldOf(() => detectFamily({ model_type: 'llava' }))).toBe('model_type');
    expect(detectFamily({ ...configJson('tiny'), version: 4.5 }).id).toBe('4.5');
    expect(fieldOf(() => detectFamily({ ...configJson('tiny'), version: 4.0 }))).toBe('version');
    expect(fieldOf(() => detectFamily({ ...configJson46('tiny'), architectures: ['Qwen3_5ForCausalLM'] }))).toBe('architectures');
  });

  it('parses the 4.6 layer pattern (full attention at (i+1) % 4 == 0) and the real shapes', () => {
    const c = parseConfig46(configJson46('bench'));
    expect(c.text.layerTypes.flatMap((t, i) => (t === 'full_attention' ? [i] : []))).toEqual([3, 7, 11, 15, 19, 23]);
    expect(c.text.rotaryDim).toBe(64);
    expect(c.text.ropeTheta).toBe(1e7);
    expect(c.text.vocabSize).toBe(248094);
    expect(c.imageTokenId).toBe(248056);
  });

  it('refuses unsupported layer types, rope scaling, text model types and token modes, naming the field', () => {
    expect(fieldOf(() => parseConfig46(with46((c) => (c.text_config.layer_types = ['linear_attention', 'sliding_attention', 'linear_attention', 'full_attention']))))).toBe('text_config.layer_types[1]');
    expect(fieldOf(() => parseConfig46(with46((c) => (c.text_config.rope_parameters = { rope_type: 'yarn', rope_theta: 1e7, factor: 4 }))))).toBe('text_config.rope_parameters.rope_type');
    expect(fieldOf(() => parseConfig46(with46((c) => (c.text_config.rope_scaling = { type: 'linear', factor: 2 }))))).toBe('text_config.rope_scaling.rope_type');
    expect(fieldOf(() => parseConfig46(with46((c) => (c.text_config.model_type = 'qwen3_5_moe_text'))))).toBe('text_config.model_type');
    expect(fieldOf(() => resolveTokenMode(FAMILIES['2.6'], '4x'))).toBe('downsample_mode');
    expect(resolveTokenMode(FAMILIES['4.6'], undefined)).toBe('16x');
    expect(fieldOf(() => resolveTokenMode(FAMILIES['4.6'], '8x'))).toBe('downsample_mode');
  });
});

describe('4.6 checkpoint reader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-46-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a generated checkpoint and names a missing merger tensor', async () => {
    await generateTinyCheckpoint(dir, { family: '4.6', preset: 'tiny', shards: 1 });
    const ck = readAnyCheckpoint(dir);
    expect(ck.family).toBe('4.6');
    if (ck.family !== '4.6') return;
    expect(ck.parts.llm.tensors).toBeGreaterThan(0);
    expect(ck.parts.vpm.tensors).toBeGreaterThan(0);
    // Rewrite the file without the final merger's second linear.
    const file = join(dir, 'model.safetensors');
    const entries = readSafetensorsHeader(file).filter((e) => e.name !== 'model.merger.mlp.0.linear_2.weight');
    const bytes = new Map(entries.map((e) => [e.name, readTensorBytes(e)]));
    writeSafetensors(file, entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, bytes: () => bytes.get(e.name)! })));
    expect(fieldOf(() => readAnyCheckpoint(dir))).toBe('model.merger.mlp.0.linear_2.weight');
    // An unsupported layer type in config.json is refused before any weight is read.
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    cfg.text_config.layer_types = ['linear_attention', 'linear_attention', 'linear_attention', 'mamba'];
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    expect(fieldOf(() => readAnyCheckpoint(dir))).toBe('text_config.layer_types[3]');
  });
});
