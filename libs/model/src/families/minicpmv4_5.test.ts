/**
 * MiniCPM-V 4.5 = the 2.6 pipeline with a Qwen3 decoder (reference/minicpmv4x.md §7): config dispatch and
 * validation, the tensor inventory (q_norm / k_norm, no q/k/v bias), and the tiny 4.5 model's stages against
 * the float64 reference (vision + resampler on one slice; paged decoder prefill, cached steps and a chunked
 * prefill ≤ 1e-4), plus greedy decode with the cache equal to recomputation without it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmaxRow, configJson45, detectFamily, temporalPosEmbed, ensureTinyModel45Paths, expectedTensors, openModel, parseConfig, readAnyManifest, readCheckpoint, type Model } from '../index.js';
import { ReferenceModel } from '../reference/reference-model.js';
import { maxAbsDiff } from '@tessera/testing/vitest';

const TOL = 1e-4;
const fieldOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return (e as { details?: { field?: string } }).details?.field;
  }
  return undefined;
};

describe('MiniCPM-V 4.5 config and tensors', () => {
  it('version 4.5 is its own family with a Qwen3 decoder; a head_dim or rope scaling the graphs cannot take is refused by name', () => {
    const raw = configJson45('tiny');
    expect(detectFamily(raw).id).toBe('4.5');
    const c = parseConfig(raw);
    expect([c.version, c.llm.qkNorm, c.llm.attentionBias, c.llm.headDim]).toEqual([4.5, true, false, 32]);
    expect(fieldOf(() => parseConfig({ ...raw, head_dim: 48 }))).toBe('head_dim');
    expect(fieldOf(() => parseConfig({ ...raw, attention_bias: 'no' }))).toBe('attention_bias');
    // Qwen3-8B's long-context recipe is YaRN in rope_scaling; the released 4.5 config has null, the graphs only default RoPE.
    expect(fieldOf(() => parseConfig({ ...raw, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 } }))).toBe('rope_scaling');
    const names = new Set(expectedTensors(c).map((t) => t.name));
    expect(names.has('llm.model.layers.0.self_attn.q_norm.weight')).toBe(true);
    expect(names.has('llm.model.layers.1.self_attn.k_norm.weight')).toBe(true);
    expect(names.has('llm.model.layers.0.self_attn.q_proj.bias')).toBe(false);
    expect(names.has('resampler.query')).toBe(true);
  });

  it('config.json has exactly the released 4.5 keys: the 2.6 layout it is spread from, without use_image_id / vision_batch_size', () => {
    const raw = configJson45('bench');
    expect(Object.keys(raw).sort()).toEqual([
      '_name_or_path', 'architectures', 'attention_bias', 'attention_dropout', 'auto_map', 'batch_3d_resampler', 'batch_vision_input', 'bos_token_id',
      'drop_vision_last_layer', 'eos_token_id', 'head_dim', 'hidden_act', 'hidden_size', 'image_size', 'initializer_range', 'intermediate_size',
      'max_position_embeddings', 'max_window_layers', 'model_type', 'num_attention_heads', 'num_hidden_layers', 'num_key_value_heads', 'patch_size',
      'query_num', 'rms_norm_eps', 'rope_scaling', 'rope_theta', 'slice_config', 'slice_mode', 'sliding_window', 'tie_word_embeddings', 'torch_dtype',
      'transformers_version', 'use_cache', 'use_sliding_window', 'version', 'vision_config', 'vocab_size',
    ]);
    expect(raw).toMatchObject({ version: 4.5, vocab_size: 151748, max_position_embeddings: 40960, head_dim: 128, sliding_window: null, hidden_size: 4096, num_hidden_layers: 36 });
  });
});

describe('tiny MiniCPM-V 4.5 model vs the float64 reference', () => {
  let model: Model;
  let ref: ReferenceModel;
  beforeAll(async () => {
    const paths = await ensureTinyModel45Paths();
    expect(readAnyManifest(paths.model)).toMatchObject({ family: '4.5', version: 4.5 });
    model = await openModel(paths.model, { intraOpNumThreads: 1, allowSpinning: false });
    ref = new ReferenceModel(readCheckpoint(paths.checkpoint));
  });
  afterAll(async () => {
    await model?.release();
  });

  it('vision + resampler on a 2×3-patch slice', async () => {
    const height = 2 * 14;
    const width = 3 * 14;
    const data = Float32Array.from({ length: 3 * height * width }, (_, i) => Math.sin(i * 0.37 + 2) * 0.9);
    const [f] = await model.vision.encodeSlices([{ data, height, width }]);
    expect(maxAbsDiff(f!.features, ref.vision(data, height, width))).toBeLessThanOrEqual(TOL);
    const [e] = await model.resampler.resampleSlices([f!]);
    expect(maxAbsDiff(e!, ref.resampler(f!.features, 2, 3))).toBeLessThanOrEqual(TOL);
  });

  it('3D resampler: frame groups with temporal ids (batched, padded) match the float64 reference; ids change the output', async () => {
    const frame = (h: number, w: number, seed: number) => ({ data: Float32Array.from({ length: 3 * h * 14 * w * 14 }, (_, i) => Math.sin(i * 0.13 + seed) * 0.8), height: h * 14, width: w * 14 });
    const feats = await model.vision.encodeSlices([frame(2, 3, 1), frame(2, 3, 2), frame(2, 3, 3), frame(3, 2, 4), frame(3, 2, 5), frame(2, 2, 6)]);
    const groups = [
      { frames: feats.slice(0, 3), temporalIds: [0, 3, 7] },
      { frames: feats.slice(3, 5), temporalIds: [1234, 1237] },
      { frames: feats.slice(5, 6), temporalIds: [-1] },
    ];
    const out = await model.resampler.resampleGroups(groups);
    const refOf = (g: (typeof groups)[number]) => ref.resamplerGroup(g.frames.map((f) => ({ features: f.features, h: f.tgtSize[0], w: f.tgtSize[1] })), g.temporalIds);
    groups.forEach((g, i) => expect(maxAbsDiff(out[i]!, refOf(g)), `group ${i}`).toBeLessThanOrEqual(TOL));
    // An image crop (id -1) is the 2D resampler; temporal ids move the output (T is added to the keys).
    expect(maxAbsDiff(out[2]!, (await model.resampler.resampleSlices([feats[5]!]))[0]!)).toBeLessThanOrEqual(1e-6);
    const [noTime] = await model.resampler.resampleGroups([{ frames: feats.slice(0, 3), temporalIds: [-1, -1, -1] }]);
    expect(maxAbsDiff(noTime!, out[0]!)).toBeGreaterThan(1e-3);
    // T(t): float32 sin/cos of t·10000^(-k/(D/2)), as numpy; near the float64 formula for small t.
    const D = 16;
    const t = temporalPosEmbed(7, D);
    for (let k = 0; k < D / 2; k++) {
      expect(Math.abs(t[k]! - Math.sin(7 / 10000 ** (k / (D / 2))))).toBeLessThan(1e-6);
      expect(Math.abs(t[D / 2 + k]! - Math.cos(7 / 10000 ** (k / (D / 2))))).toBeLessThan(1e-6);
    }
    expect(Array.from(temporalPosEmbed(-1, D))).toEqual(new Array(D).fill(0));
  });

  it('paged decoder (q_norm / k_norm, no bias): prefill, cached steps and a chunked prefill match the reference; greedy with the cache == without', async () => {
    model.decoder.allocate({ numBlocks: 64, blockSize: 4, numStateSlots: 1 });
    const V = model.decoder.vocabSize;
    const table = Array.from({ length: 16 }, (_, j) => j);
    const ids = [151644, 872, 198, 9707, 0, 1000, 2000, 151645, 198];
    const e = await model.embed.run(ids, [1, ids.length]);
    let logits = await model.decoder.step({ batch: 1, seqLen: ids.length, inputsEmbeds: e, pastLengths: [0], queryLengths: [ids.length], blockTables: [table] });
    expect(maxAbsDiff(logits, ref.decoder(ref.embed(ids), ids.length))).toBeLessThanOrEqual(TOL);
    const seq = [...ids];
    for (let step = 0; step < 8; step++) {
      const next = argmaxRow(logits, 0, V);
      seq.push(next);
      logits = await model.decoder.step({ batch: 1, seqLen: 1, inputsEmbeds: await model.embed.run([next], [1, 1]), pastLengths: [seq.length - 1], queryLengths: [1], blockTables: [table] });
      if (step < 3) expect(maxAbsDiff(logits, ref.decoder(ref.embed(seq), seq.length))).toBeLessThanOrEqual(TOL);
      const full = await model.decoder.forwardNoCache(await model.embed.run(seq, [1, seq.length]), [seq.length]);
      expect(argmaxRow(full, 0, V)).toBe(argmaxRow(logits, 0, V));
    }
    const chunkTable = table.map((b) => b + 32);
    let last: Float32Array = new Float32Array(0);
    for (let at = 0; at < ids.length; at += 4) {
      const part = ids.slice(at, at + 4);
      last = await model.decoder.step({ batch: 1, seqLen: part.length, inputsEmbeds: await model.embed.run(part, [1, part.length]), pastLengths: [at], queryLengths: [part.length], blockTables: [chunkTable] });
    }
    expect(maxAbsDiff(last, ref.decoder(ref.embed(ids), ids.length))).toBeLessThanOrEqual(TOL);
  });
});
