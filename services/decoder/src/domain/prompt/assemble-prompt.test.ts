/**
 * Prompt assembly against the model library's tokenizer: for prompts whose text contains no control
 * spellings, our ids must equal HF-style `encode(apply_chat_template(...))` with the vision
 * library's placeholder text inline (that is how MiniCPM-V's processor builds input_ids).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel, Tokenizer } from '@tessera/model';
import { imagePlaceholder, type SlicePlan } from '@tessera/vision';
import { assemblePrompt } from './assemble-prompt.js';
import { assemblePrompt46 } from './assemble-prompt46.js';
import { PromptTokenizer } from './prompt-tokenizer.js';
import type { PromptImage } from './prompt-types.js';

let ours: PromptTokenizer;
let hf: Tokenizer;
const model = { hiddenSize: 4, queryNum: 3 };

beforeAll(async () => {
  const dir = await ensureTinyModel();
  const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
  ours = PromptTokenizer.fromJson(read('tokenizer.json'), read('tokenizer_config.json'));
  hf = Tokenizer.fromDir(dir);
});

const image = (cols: number, rows: number, fill: number): PromptImage => {
  const n = 1 + cols * rows;
  return { tokens: Float32Array.from({ length: n * 3 * 4 }, (_, i) => fill + i), shape: [n, 3, 4], gridCols: cols, gridRows: rows, useImageId: true };
};
const phText = (img: PromptImage, k: number): string =>
  imagePlaceholder({ grid: img.gridCols ? { cols: img.gridCols, rows: img.gridRows } : null, slices: new Array(img.gridCols * img.gridRows) } as unknown as SlicePlan, { queryNum: 3, imageIndex: k, useImageId: true }).text;

describe('prompt assembly', () => {
  it('a video embedding is refused naming images[i].video (2.6 and 4.6 have no 3D resampler)', () => {
    const video: PromptImage = { ...image(0, 0, 0), useImageId: false, videoGroups: 1 };
    const input = { messages: [{ role: 'user' as const, parts: [{ kind: 'image' as const, imageIndex: 0 }] }], images: [video] };
    const refused = expect.objectContaining({ details: expect.objectContaining({ field: 'images[0].video' }) });
    expect(() => assemblePrompt(input, ours, model, { maxImages: 1 })).toThrow(refused);
    // 4.6 checks its images before it tokenises anything, so the 2.6 tokenizer serves here.
    expect(() => assemblePrompt46(input, ours, { hiddenSize: 4, enableThinking: false }, { maxImages: 1 })).toThrow(refused);
  });

  it('matches encode(chat template + placeholders) across turns and several images', () => {
    const imgs = [image(2, 2, 0), image(0, 0, 1000), image(3, 1, 2000)];
    const out = assemblePrompt({
      messages: [
        { role: 'system', parts: [{ kind: 'text', text: 'Be brief.' }] },
        { role: 'user', parts: [{ kind: 'image', imageIndex: 0 }, { kind: 'image', imageIndex: 1 }, { kind: 'text', text: 'Compare these, 你好 🙂\n\n' }] },
        { role: 'assistant', parts: [{ kind: 'text', text: 'They differ.' }] },
        { role: 'user', parts: [{ kind: 'text', text: 'And this one?' }, { kind: 'image', imageIndex: 2 }] },
      ],
      images: imgs,
    }, ours, model, { maxImages: 4 });
    const text = hf.applyChatTemplate([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [phText(imgs[0]!, 0), phText(imgs[1]!, 1), 'Compare these, 你好 🙂\n\n'].join('\n') },
      { role: 'assistant', content: 'They differ.' },
      { role: 'user', content: ['And this one?', phText(imgs[2]!, 2)].join('\n') },
    ]);
    expect(Array.from(out.tokenIds)).toEqual(hf.encode(text));
    // Every <unk> slot is a visual position, filled in order: image 0 (overview + 4 slices), 1, 2.
    const unk = hf.specialTokenIds.unk;
    const slots = Array.from(out.tokenIds.entries()).filter(([, t]) => t === unk).map(([i]) => i);
    expect(Array.from(out.visual!.positions)).toEqual(slots);
    expect(out.visualTokens).toBe(3 * (5 + 1 + 4));
    expect(out.visual!.embeddings.subarray(0, 12)).toEqual(imgs[0]!.tokens.subarray(0, 12));
    expect(out.visual!.embeddings[5 * 12]).toBe(1000);
    expect(out.visual!.embeddings[6 * 12]).toBe(2000);
  });

  it('adds the default system turn and handles text-only raw prompts', () => {
    const chat = assemblePrompt({ messages: [{ role: 'user', parts: [{ kind: 'text', text: 'hi' }] }], images: [] }, ours, model, { maxImages: 0 });
    expect(Array.from(chat.tokenIds)).toEqual(hf.encode(hf.applyChatTemplate([{ role: 'user', content: 'hi' }])));
    expect(chat.visual).toBeUndefined();
    const raw = assemblePrompt({ prompt: [{ kind: 'text', text: 'Once upon a time' }], images: [] }, ours, model, { maxImages: 0 });
    expect(Array.from(raw.tokenIds)).toEqual(hf.encode('Once upon a time'));
  });

  it("chat endings (vLLM's add_generation_prompt / continue_final_message) match HF's rendering: closed, or cut after the final text", () => {
    const msgs = [
      { role: 'user' as const, parts: [{ kind: 'text' as const, text: 'Name a colour.' }] },
      { role: 'assistant' as const, parts: [{ kind: 'text' as const, text: 'My favourite colour is  \n' }] },
    ];
    const hfMsgs = [{ role: 'user', content: 'Name a colour.' }, { role: 'assistant', content: 'My favourite colour is  \n' }];
    const ids = (ending?: 'closed' | 'continue-final') => Array.from(assemblePrompt({ messages: msgs, images: [], ...(ending && { ending }) }, ours, model, { maxImages: 0 }).tokenIds);
    // A last assistant message is closed and answered after by default (OpenAI, vLLM).
    expect(ids()).toEqual(hf.encode(hf.applyChatTemplate(hfMsgs)));
    const closed = hf.applyChatTemplate(hfMsgs, { addGenerationPrompt: false });
    expect(ids('closed')).toEqual(hf.encode(closed));
    // HF's continue_final_message: the rendering without a generation prompt, cut after the last occurrence of the stripped final text.
    const final = 'My favourite colour is  \n'.trim();
    expect(ids('continue-final')).toEqual(hf.encode(closed.slice(0, closed.lastIndexOf(final) + final.length)));
    expect(hf.decode(ids('continue-final')).endsWith('<|im_start|>assistant\nMy favourite colour is')).toBe(true);
    // Nothing to continue: a last message that ends with an image, or blank text.
    const field = (f: () => unknown) => { try { f(); } catch (e) { return (e as { details?: { field?: string } }).details?.field; } return undefined; };
    const img = image(0, 0, 0);
    expect(field(() => assemblePrompt({ messages: [{ role: 'user', parts: [{ kind: 'text', text: 'see' }, { kind: 'image', imageIndex: 0 }] }], images: [img], ending: 'continue-final' }, ours, model, { maxImages: 1 }))).toBe('continue_final_message');
    expect(field(() => assemblePrompt({ messages: [{ role: 'assistant', parts: [{ kind: 'text', text: ' \n' }] }], images: [], ending: 'continue-final' }, ours, model, { maxImages: 1 }))).toBe('continue_final_message');
  });

  it('keeps control-token spellings typed by a user as plain text', () => {
    const out = assemblePrompt({ prompt: [{ kind: 'text', text: 'x<|im_end|><image><unk>' }], images: [] }, ours, model, { maxImages: 0 });
    const specials = Object.values(hf.specialTokenIds).filter((id) => id !== hf.specialTokenIds.newline);
    expect(Array.from(out.tokenIds).some((t) => specials.includes(t))).toBe(false);
    expect(hf.decode(out.tokenIds)).toBe('x<|im_end|><image><unk>');
  });

  it('names the field for bad images, indices and invalid UTF-8', () => {
    const bad = (f: () => unknown): string | undefined => { try { f(); } catch (e) { return (e as { details?: { field?: string } }).details?.field; } return undefined; };
    const img = image(1, 2, 0);
    expect(bad(() => assemblePrompt({ prompt: [{ kind: 'image', imageIndex: 0 }], images: [{ ...img, shape: [2, 3, 4] }] }, ours, model, { maxImages: 4 }))).toBe('images[0].visual_tokens');
    expect(bad(() => assemblePrompt({ prompt: [{ kind: 'image', imageIndex: 0 }], images: [{ ...img, tokens: img.tokens.subarray(1) }] }, ours, model, { maxImages: 4 }))).toBe('images[0].visual_tokens');
    expect(bad(() => assemblePrompt({ prompt: [{ kind: 'text', text: 'no image' }], images: [img] }, ours, model, { maxImages: 4 }))).toBe('images[0]');
    expect(bad(() => assemblePrompt({ prompt: [{ kind: 'image', imageIndex: 1 }], images: [img] }, ours, model, { maxImages: 4 }))).toBe('prompt[0].image.image_index');
    expect(bad(() => assemblePrompt({ messages: [{ role: 'user', parts: [{ kind: 'text', text: 'a\udc00' }] }], images: [] }, ours, model, { maxImages: 4 }))).toBe('messages[0].parts[0].text');
    expect(bad(() => assemblePrompt({ prompt: [], images: [] }, ours, model, { maxImages: 4 }))).toBe('messages');
  });
});
