/**
 * MiniCPM-V 4.6 prompt ids: the checkpoint's own chat template (Jinja, Tokenizer.applyChatTemplate) with
 * one `<|image_pad|>` per image item, then each image expanded as the 4.6 processor does (T46P; reference
 * doc §5) — the 2.6 layout with `<|image_pad|>` slots and per-crop counts:
 *   [<image_id>k</image_id>]<image>{pad × n_overview}</image>  then, with a grid, rows joined by "\n",
 *   each row = cols × <slice>{pad × n_slice}</slice>
 * n = (H/56)·(W/56) per crop in 16x, (H/28)·(W/28) in 4x (the slicer's plan gives them: tokensPerImage).
 * User text is encoded with added tokens off (a typed "<|im_end|>" stays text, like HF's
 * split_special_tokens for user content); template text with them on. Video is not handled here.
 */
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { ChatContentItem, ChatMessage, Tokenizer } from '../../tokenizer/tokenizer.js';

export interface Image46 {
  /** Tokens per crop: overview first, then slices row-major (libs/vision planTokens). */
  tokensPerImage: number[];
  /** Slice grid, or null when the image is the overview only. */
  grid: { rows: number; cols: number } | null;
}

export interface Prompt46Options {
  addGenerationPrompt?: boolean;
  enableThinking?: boolean;
  /** `<image_id>k</image_id>` before each image (processor default true). */
  useImageId?: boolean;
}

const OPEN = '\u0001';
const CLOSE = '\u0002';

export function buildPromptIds46(tok: Tokenizer, messages: ChatMessage[], images: Image46[], opts: Prompt46Options = {}): { ids: number[]; imagePadPositions: number[] } {
  // Swap user-controlled text for markers so the rendered string separates template text from user text.
  const texts: string[] = [];
  const mark = (t: string): string => `${OPEN}${texts.push(t) - 1}${CLOSE}`;
  const marked: ChatMessage[] = messages.map((m) => ({
    role: m.role,
    content: typeof m.content === 'string' ? mark(m.content) : m.content.map((it): ChatContentItem => (it.type === 'text' ? { type: 'text', text: mark(it.text) } : it)),
  }));
  const rendered = tok.applyChatTemplate(marked, { addGenerationPrompt: opts.addGenerationPrompt, enableThinking: opts.enableThinking });
  const control = (s: string): number => {
    const id = tok.addedTokenId(s);
    if (id === undefined) throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `tokenizer.json: added token ${s} is missing`, { field: `added_tokens[${s}]` });
    return id;
  };
  const pad = control('<|image_pad|>');
  const ids: number[] = [];
  const padPositions: number[] = [];
  // Template text: added tokens by id, the rest through the BPE.
  const specials = new RegExp(tok.addedTokens.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  const templateText = (s: string): void => {
    let last = 0;
    for (const m of s.matchAll(specials)) {
      if (m[0] === '<|image_pad|>') throw new Error('unreachable: image pads are split out first');
      ids.push(...tok.encodePlain(s.slice(last, m.index)), control(m[0]));
      last = m.index! + m[0].length;
    }
    ids.push(...tok.encodePlain(s.slice(last)));
  };
  const slots = (n: number): void => {
    for (let i = 0; i < n; i++) {
      padPositions.push(ids.length);
      ids.push(pad);
    }
  };
  let image = 0;
  const useId = opts.useImageId ?? true;
  for (const part of rendered.split(new RegExp(`(${OPEN}\\d+${CLOSE}|<\\|image_pad\\|>)`))) {
    if (part === '') continue;
    if (part === '<|image_pad|>') {
      const img = images[image];
      if (!img) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `messages: image ${image} has no slice plan (${images.length} given)`, { field: 'images' });
      const expected = 1 + (img.grid ? img.grid.rows * img.grid.cols : 0);
      if (img.tokensPerImage.length !== expected) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `images[${image}].tokensPerImage has ${img.tokensPerImage.length} entries, the grid needs ${expected}`, { field: `images[${image}].tokensPerImage` });
      if (useId) ids.push(control('<image_id>'), ...tok.encodePlain(String(image)), control('</image_id>'));
      ids.push(control('<image>'));
      slots(img.tokensPerImage[0]);
      ids.push(control('</image>'));
      if (img.grid) {
        let k = 1;
        for (let r = 0; r < img.grid.rows; r++) {
          if (r > 0) ids.push(...tok.encodePlain('\n'));
          for (let c = 0; c < img.grid.cols; c++) {
            ids.push(control('<slice>'));
            slots(img.tokensPerImage[k++]);
            ids.push(control('</slice>'));
          }
        }
      }
      image++;
      continue;
    }
    const m = new RegExp(`^${OPEN}(\\d+)${CLOSE}$`).exec(part);
    if (m) ids.push(...tok.encodePlain(texts[Number(m[1])]));
    else templateText(part);
  }
  if (image !== images.length) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `messages have ${image} image(s) but ${images.length} slice plan(s) were given`, { field: 'images' });
  return { ids, imagePadPositions: padPositions };
}
