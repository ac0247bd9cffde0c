/**
 * MiniCPM-V 4.5 prompt ids, built the way the checkpoint's own code does (modeling_minicpmv.py `chat` +
 * processing_minicpmv.py, read from a public copy of openbmb/MiniCPM-V-4_5):
 *  1. each message's content list becomes ONE string: every image is the text `(<image>./</image>)`,
 *     items joined by "\n";
 *  2. the checkpoint's Jinja chat template (Qwen3's + the `enable_thinking` true branch) renders the
 *     messages with `add_generation_prompt` and `enable_thinking` (upstream default false → an empty
 *     `<think>\n\n</think>\n\n` block; true → `<think>\n`);
 *  3. each `(<image>./</image>)` is replaced by the 2.6 placeholder: `[<image_id>k</image_id>]<image>`
 *     `<unk>×64</image>` then rows of `<slice><unk>×64</slice>` joined by "\n" (no "\n" after `</image>`).
 * The whole string is then tokenised by HF with added tokens recognised. Here user text is tokenised
 * with added tokens OFF (a typed "<|im_end|>" stays text — the same rule as 2.6 / 4.6 here); for text
 * without added-token spellings the ids are identical (tested against `encode(rendered)`).
 * Video (3D resampler) groups are images here: one placeholder per frame group (vision/video.ts).
 */
import type { ChatMessage } from '../../tokenizer/chat-template.js';
import { buildTemplatePromptIds, type Image46, type Prompt46Ids, type Prompt46Options, type Prompt46Tokenizer, type TemplateLayout } from '../minicpmv4_6/prompt46.js';

/** The image tag model.chat writes into message text; the processor expands each one. */
export const IMAGE_TAG_45 = '(<image>./</image>)';

const LAYOUT_45: TemplateLayout = {
  pad: '<unk>',
  marker: IMAGE_TAG_45,
  content: (m, mark) => (typeof m.content === 'string' ? mark(m.content) : m.content.map((it) => (it.type === 'text' ? mark(it.text) : IMAGE_TAG_45)).join('\n')),
};

/**
 * Messages (string or text / image items) + per-image layout (64 tokens per crop; overview then slices
 * row-major) → ids and the `<unk>` positions that receive the resampler rows.
 */
export function buildPromptIds45(tok: Prompt46Tokenizer, messages: ChatMessage[], images: Image46[], opts: Prompt46Options = {}): Prompt46Ids {
  return buildTemplatePromptIds(tok, messages, images, { enableThinking: false, ...opts }, LAYOUT_45);
}

/**
 * The upstream processor's placeholder string for one image (what replaces `(<image>./</image>)`):
 * used by tests to rebuild HF's full prompt text and tokenise it in one piece.
 */
export function imagePlaceholderText45(img: Image46, k: number, useImageId = true): string {
  const slot = (n: number): string => '<unk>'.repeat(n);
  let s = (img.useImageId ?? useImageId) ? `<image_id>${k}</image_id>` : '';
  s += `<image>${slot(img.tokensPerImage[0]!)}</image>`;
  if (img.grid) {
    const rows: string[] = [];
    let j = 1;
    for (let r = 0; r < img.grid.rows; r++) {
      let row = '';
      for (let c = 0; c < img.grid.cols; c++) row += `<slice>${slot(img.tokensPerImage[j++]!)}</slice>`;
      rows.push(row);
    }
    s += rows.join('\n');
  }
  return s;
}
