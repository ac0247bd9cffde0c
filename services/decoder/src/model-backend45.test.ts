/**
 * The decoder serving the tiny MiniCPM-V 4.5 model (2.6 pipeline, Qwen3 decoder with q_norm / k_norm):
 * loaded by family, the Qwen3 chat template with the 2.6 image layout, and greedy tokens through the engine (4 concurrent sequences, one
 * with resampler-shaped visual tokens) equal the paged graph's no-cache forward recomputed every token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmaxRow, buildPromptIds45, ensureTinyModel45Paths } from '@tessera/model';
import { Engine } from './domain/engine/engine.js';
import { samplingParams } from './domain/engine/engine-defaults.js';
import { collect } from './test/collect.js';
import type { VisualInput } from './domain/engine/types.js';
import { loadDecoderModel, type LoadedDecoderModel } from './adapters/load-model.js';

let m: LoadedDecoderModel;
beforeAll(async () => {
  m = await loadDecoderModel((await ensureTinyModel45Paths()).model, { intraOpNumThreads: 1, allowSpinning: false });
});
afterAll(async () => m?.model.release());

describe('decoder on the tiny 4.5 model', () => {
  it('loads as 4.5 with the 2.6 layout; engine greedy == no-cache recomputation', async () => {
    expect([m.family.id, m.queryNum, m.backend.info.stateBytesPerSequence, m.backend.info.maxQueryLength]).toEqual(['4.5', 64, 0, undefined]);
    const H = m.backend.info.hiddenSize;
    const V = m.backend.info.vocabSize;
    const img = { tokens: Float32Array.from({ length: 64 * H }, (_, i) => 0.05 * Math.sin(i * 0.7)), shape: [1, 64, H], gridCols: 0, gridRows: 0, useImageId: true };
    const prompts = [
      m.assemble({ messages: [{ role: 'user', parts: [{ kind: 'text', text: 'Hi' }] }], images: [] }, { maxImages: 1 }),
      m.assemble({ messages: [{ role: 'user', parts: [{ kind: 'image', imageIndex: 0 }, { kind: 'text', text: 'What is it?' }] }], images: [img] }, { maxImages: 1 }),
      m.assemble({ messages: [{ role: 'user', parts: [{ kind: 'text', text: 'word '.repeat(30) }] }], images: [] }, { maxImages: 1 }),
      m.assemble({ prompt: [{ kind: 'text', text: 'Once upon a time' }], images: [] }, { maxImages: 1 }),
    ];
    expect(prompts[1]!.visualTokens).toBe(64);
    // Chat goes through the checkpoint's Qwen3 template (no default system turn, thinking off).
    const lib = buildPromptIds45(m.model.tokenizer, [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is it?' }] }], [{ tokensPerImage: [64], grid: null }], { enableThinking: false });
    expect(Array.from(prompts[1]!.tokenIds)).toEqual(lib.ids);
    expect(Array.from(prompts[1]!.visual!.positions)).toEqual(lib.imagePadPositions);
    expect(m.model.tokenizer.decode(prompts[0]!.tokenIds)).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
    const reference = async (ids: Int32Array, visual: VisualInput | undefined): Promise<number[]> => {
      const seq = Array.from(ids);
      const out: number[] = [];
      for (let i = 0; i < 6; i++) {
        const e = await m.model.embed.run(Int32Array.from(seq), [1, seq.length]);
        if (visual) visual.positions.forEach((p, k) => e.set(visual.embeddings.subarray(k * H, (k + 1) * H), p * H));
        const t = argmaxRow(await m.model.decoder.forwardNoCache(e, [seq.length]), 0, V);
        out.push(t);
        seq.push(t);
      }
      return out;
    };
    const expected: number[][] = [];
    for (const p of prompts) expected.push(await reference(p.tokenIds, p.visual));
    const engine = new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes, limits: { maxBatchSize: 4, maxPrefillTokensPerStep: 16 } });
    const outs = await Promise.all(
      prompts.map((p, i) => collect(engine.submit({ requestId: `r${i}`, tenant: 't', promptTokenIds: p.tokenIds, ...(p.visual && { visual: p.visual }), params: samplingParams({ ignoreEos: true, maxTokens: 6 }) }))),
    );
    outs.forEach((o, i) => expect(o.tokenIds, `prompt ${i}`).toEqual(expected[i]));
    await engine.close();
  });

  it('a video embedding (3 groups of the 3D resampler) = three gridless <image> without <image_id>, rows in group order', () => {
    const H = m.backend.info.hiddenSize;
    const video = { tokens: Float32Array.from({ length: 3 * 64 * H }, (_, i) => i), shape: [3, 64, H], gridCols: 0, gridRows: 0, useImageId: false, videoGroups: 3 };
    const image = { tokens: new Float32Array(64 * H).fill(-1), shape: [1, 64, H], gridCols: 0, gridRows: 0, useImageId: false };
    const parts = [{ kind: 'image' as const, imageIndex: 1 }, { kind: 'text' as const, text: 'What happens?' }, { kind: 'image' as const, imageIndex: 0 }];
    const out = m.assemble({ messages: [{ role: 'user', parts }], images: [image, video] }, { maxImages: 2 });
    const group = { tokensPerImage: [64], grid: null, useImageId: false };
    const lib = buildPromptIds45(m.model.tokenizer, [{ role: 'user', content: [{ type: 'image' }, { type: 'image' }, { type: 'image' }, { type: 'text', text: 'What happens?' }, { type: 'image' }] }], [group, group, group, group], { enableThinking: false });
    expect(Array.from(out.tokenIds)).toEqual(lib.ids);
    expect(Array.from(out.visual!.positions)).toEqual(lib.imagePadPositions);
    expect(out.visualTokens).toBe(4 * 64);
    // The video's rows first (its part comes first), in group order, then the image's.
    expect(out.visual!.embeddings.subarray(0, 3 * 64 * H)).toEqual(video.tokens);
    expect(out.visual!.embeddings[3 * 64 * H]).toBe(-1);
    expect(lib.ids.includes(m.model.tokenizer.addedTokenId('<image_id>')!)).toBe(false);

    const fieldOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return (e as { details?: { field?: string } }).details?.field;
      }
      return 'no error';
    };
    const one = (v: object) => () => m.assemble({ messages: [{ role: 'user', parts: [{ kind: 'image', imageIndex: 0 }] }], images: [{ ...video, ...v }] }, { maxImages: 1 });
    expect(fieldOf(one({ useImageId: true }))).toBe('images[0].use_image_id');
    expect(fieldOf(one({ gridCols: 1, gridRows: 1 }))).toBe('images[0].grid_cols');
    expect(fieldOf(one({ videoGroups: 2 }))).toBe('images[0].visual_tokens');
    expect(fieldOf(() => m.assemble({ prompt: [{ kind: 'image', imageIndex: 0 }], images: [video] }, { maxImages: 1 }))).toBe('images[0].video');
  });
});
