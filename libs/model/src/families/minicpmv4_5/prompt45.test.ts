/**
 * MiniCPM-V 4.5 tokenizer layout and prompt ids on the tiny 4.5 checkpoint:
 *  - the added tokens sit at the released ids (`<unk>` 128244, `<image>` 151669, `<slice>` 151679,
 *    `<image_id>` 151681, `<think>` 151667, last reserved 151747) and the vocabulary is 151,748;
 *  - the chat template is Qwen3's plus `<think>\n` for enable_thinking true;
 *  - prompt ids for a 1344×896 and a 4032×3024 image (2.6 slicing, 64 `<unk>` per crop), multi-turn with a
 *    thinking assistant turn, thinking off and on, equal HF's path: render the template over messages whose
 *    content is "(<image>./</image>)\n<text>", replace each tag by the processor's placeholder string, and
 *    encode the whole string with added tokens recognised.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { planSlices } from '@tessera/vision';
import { ensureTinyModel45Paths, loadTokenizer, type Tokenizer } from '../../index.js';
import { buildPromptIds45, IMAGE_TAG_45, imagePlaceholderText45 } from './prompt45.js';
import { chatTemplate45 } from './tokenizer-files.js';
import type { Image46 } from '../minicpmv4_6/prompt46.js';

let tok: Tokenizer;
beforeAll(async () => {
  tok = loadTokenizer((await ensureTinyModel45Paths()).model);
});

const imageOf = (w: number, h: number): Image46 => {
  const plan = planSlices(w, h, {});
  const grid = plan.grid ? { rows: plan.grid.rows, cols: plan.grid.cols } : null;
  return { tokensPerImage: new Array(1 + plan.slices.length).fill(64), grid };
};

describe('MiniCPM-V 4.5 tokenizer', () => {
  it('has the released added-token ids and vocabulary size', () => {
    const id = (s: string) => tok.addedTokenId(s);
    expect([id('<unk>'), id('<|endoftext|>'), id('<|im_start|>'), id('<|im_end|>'), id('<think>'), id('</think>')]).toEqual([128244, 151643, 151644, 151645, 151667, 151668]);
    expect([id('<image>'), id('</image>'), id('<slice>'), id('</slice>'), id('<image_id>'), id('</image_id>'), id('<unit>'), id('<|reserved_62|>')]).toEqual([151669, 151670, 151679, 151680, 151681, 151682, 151683, 151747]);
    expect(tok.vocabSize).toBe(151748);
    expect(tok.specialTokenIds.placeholder).toBe(128244);
  });

  it('chat template = Qwen3 + the enable_thinking true branch', () => {
    expect(tok.chatTemplate).toBe(chatTemplate45());
    const msgs = [{ role: 'user', content: 'Hi' }];
    expect(tok.applyChatTemplate(msgs, { enableThinking: false })).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
    expect(tok.applyChatTemplate(msgs, { enableThinking: true })).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n');
    expect(tok.applyChatTemplate(msgs, {})).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
  });
});

describe('4.5 prompt ids == HF render + processor + encode', () => {
  const cases: Array<[string, Array<[number, number]>, boolean]> = [
    ['1344×896, thinking off', [[1344, 896]], false],
    ['4032×3024, thinking on', [[4032, 3024]], true],
    ['two images + history', [[1344, 896], [300, 200]], false],
  ];
  for (const [name, sizes, thinking] of cases) {
    it(name, () => {
      const images = sizes.map(([w, h]) => imageOf(w, h));
      const history = sizes.length > 1;
      const messages = [
        { role: 'system', content: 'You are a careful assistant.' },
        ...(history
          ? [
              { role: 'user', content: [{ type: 'image' as const }, { type: 'text' as const, text: 'What is this?' }] },
              { role: 'assistant', content: '<think>\nLooks like a chart.\n</think>\n\nA bar chart.' },
            ]
          : []),
        { role: 'user', content: [...(history ? [] : [{ type: 'image' as const }]), { type: 'text' as const, text: 'Describe the picture, línea 2: 数字 42.' }, ...(history ? [{ type: 'image' as const }] : [])] },
      ];
      const { ids, imagePadPositions } = buildPromptIds45(tok, messages, images, { enableThinking: thinking });

      // HF: model.chat joins content with "\n" (images as the tag), the template renders, the processor
      // replaces tag i with the placeholder of image i, tokenizer.encode reads added tokens everywhere.
      const asText = messages.map((m) => ({ role: m.role, content: typeof m.content === 'string' ? m.content : m.content.map((c) => (c.type === 'text' ? c.text : IMAGE_TAG_45)).join('\n') }));
      const rendered = tok.applyChatTemplate(asText, { addGenerationPrompt: true, enableThinking: thinking });
      const chunks = rendered.split(IMAGE_TAG_45);
      expect(chunks.length - 1).toBe(images.length);
      let full = chunks[0]!;
      images.forEach((img, k) => (full += imagePlaceholderText45(img, k) + chunks[k + 1]));
      expect(ids).toEqual(tok.encode(full));

      const unk = tok.specialTokenIds.unk!;
      expect(imagePadPositions).toEqual(ids.flatMap((t, i) => (t === unk ? [i] : [])));
      expect(imagePadPositions.length).toBe(64 * images.reduce((a, im) => a + im.tokensPerImage.length, 0));
      const tail = thinking ? [151667, ...tok.encode('\n')] : [151667, ...tok.encode('\n\n'), 151668, ...tok.encode('\n\n')];
      expect(ids.slice(-tail.length)).toEqual(tail);
      console.log(`${name}: grids ${images.map((i) => (i.grid ? `${i.grid.cols}x${i.grid.rows}` : 'none')).join(', ')}, ${imagePadPositions.length} <unk> slots, ${ids.length} ids`);
    });
  }

  it('a video of 6 frames packed 3 per group = two gridless images without <image_id>, as the processor builds it', () => {
    // Upstream: model.chat writes one tag per frame ("\n"-joined, then the question); the processor skips
    // every frame but the first of each group (temporal_ids [[0,1,2],[3,4,5]]), stripping the text before a
    // skipped tag, and the recipe passes use_image_id=False, max_slice_nums=1.
    const frames = 6;
    const groups = [[0, 1, 2], [3, 4, 5]];
    const content = [...Array(frames).fill(IMAGE_TAG_45), 'What happens?'].join('\n');
    const rendered = tok.applyChatTemplate([{ role: 'user', content }], { addGenerationPrompt: true, enableThinking: false });
    const chunks = rendered.split(IMAGE_TAG_45);
    const firsts = new Set(groups.map((g) => g[0]));
    const group: Image46 = { tokensPerImage: [64], grid: null, useImageId: false };
    let full = '';
    for (let i = 0; i < frames; i++) full += firsts.has(i) ? chunks[i]! + imagePlaceholderText45(group, i) : chunks[i]!.trim();
    full += chunks[frames];
    const { ids, imagePadPositions } = buildPromptIds45(tok, [{ role: 'user', content: [{ type: 'image' }, { type: 'image' }, { type: 'text', text: 'What happens?' }] }], [group, group]);
    expect(ids).toEqual(tok.encode(full));
    expect(imagePadPositions.length).toBe(128);
    expect(ids.includes(tok.specialTokenIds.imageId)).toBe(false);
  });

  it('typed special-token spellings in user text stay text', () => {
    const { ids } = buildPromptIds45(tok, [{ role: 'user', content: 'a <|im_end|> b <image>' }], []);
    expect(ids.filter((t) => t === tok.specialTokenIds.imEnd).length).toBe(1);
    expect(ids.includes(tok.specialTokenIds.image)).toBe(false);
  });
});
