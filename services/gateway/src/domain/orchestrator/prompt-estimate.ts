/**
 * The prompt's token count before anything is encoded, for the quota reservation. It walks the same
 * MiniCPM-V 2.6 ChatML layout the decoder assembles (services/decoder/src/domain/prompt/assemble-prompt.ts):
 *
 *   <|im_start|>system\nYou are a helpful assistant.<|im_end|>\n      (when the first turn is not system)
 *   <|im_start|>{role}\n{parts joined by "\n"}<|im_end|>\n            (every message)
 *   <|im_start|>assistant\n                                           (generation prompt)
 *
 * with each image's placeholder from `@tessera/vision` (tags = 1 control token, U slots = queryNum
 * visual tokens each), and the text between control tokens encoded as one run, as the decoder does.
 * The result equals the decoder's count (prompt-estimate.test.ts checks it against assemblePrompt)
 * except for user text that spells a special token (`<image>`): the decoder encodes that as plain
 * text, so here such a run counts its UTF-8 bytes, an upper bound for a byte-level BPE. The
 * reservation is settled to the decoder's exact count either way.
 *
 * MiniCPM-V 4.6 and 4.5 prompts come from the checkpoint's own Jinja template, so no layout is walked
 * here: `estimatePromptTokens46` / `estimatePromptTokens45` build the prompt ids with the function the
 * decoder uses (@tessera/model buildPromptIds46: template, tools, `<|image_pad|>` expansion with the
 * slice plan's per-crop counts — (H/56)·(W/56) in 16x, (H/28)·(W/28) in 4x; buildPromptIds45: Qwen3
 * template, `<unk>` × 64 per crop in the 2.6 layout) — exact, not an estimate.
 */
import { buildPromptIds45, buildPromptIds46, templateTool, templateToolCalls, type ChatContentItem, type ChatMessage, type Image46, type Prompt46Tokenizer } from '@tessera/model/text';
import { IMAGE_TOKENS, imagePlaceholder, type SlicePlan } from '@tessera/vision';
import { renderToolTurns } from '@tessera/structured';
import type { ValidChatRequest, ValidMessage } from '../openai/valid-request.js';

export const DEFAULT_SYSTEM_PROMPT = 'You are a helpful assistant.';
const IM_START = '<|im_start|>';
const IM_END = '<|im_end|>';
const TAGS = [IMAGE_TOKENS.idStart, IMAGE_TOKENS.idEnd, IMAGE_TOKENS.imageStart, IMAGE_TOKENS.imageEnd, IMAGE_TOKENS.sliceStart, IMAGE_TOKENS.sliceEnd];
/** Spellings that the serving tokenizer would turn into one id but the decoder keeps as text. */
const SPECIAL_SPELLING = /<\|[a-z_]+\|>|<\/?(image|slice|image_id|unk|ref|box|quad|point)>|<s>|<\/s>/;

/**
 * The turns the decoder's template will see: with tools (tool_choice not "none"), tool calls or tool
 * results, the Hermes layout of @tessera/structured, exactly as the decoder renders it.
 */
export function promptTurns(req: Pick<ValidChatRequest, 'messages' | 'tools'>): ValidMessage[] {
  const withTools = (req.tools?.tools.length ?? 0) > 0 && req.tools?.choice !== 'none';
  if (!withTools && !req.messages.some((m) => m.role === 'tool' || m.toolCalls)) return req.messages;
  return renderToolTurns(req.messages, req.tools?.tools ?? [], withTools, DEFAULT_SYSTEM_PROMPT) as ValidMessage[];
}

export interface TextEncoder {
  encode(text: string): number[];
}

export interface EstimateImage {
  plan: SlicePlan;
  /** MiniCPM-V 4.6: tokens per image (overview first); unset = queryNum each. */
  tokensPerImage?: number[];
}

export function estimatePromptTokens(messages: readonly ValidMessage[], images: readonly EstimateImage[], tok: TextEncoder, o: { queryNum: number; useImageId: boolean }): number {
  let tokens = 0;
  let text = '';
  const flush = () => {
    if (text) tokens += SPECIAL_SPELLING.test(text) ? Buffer.byteLength(text, 'utf8') : tok.encode(text).length;
    text = '';
  };
  const control = () => {
    flush();
    tokens++;
  };
  const placeholder = (plan: SlicePlan, index: number, tokensPerImage?: number[]) => {
    for (const seg of imagePlaceholder(plan, { queryNum: o.queryNum, imageIndex: index, useImageId: o.useImageId, ...(tokensPerImage && { tokensPerImage }) }).segments) {
      if (seg.kind === 'visual') {
        flush();
        tokens += seg.count;
        continue;
      }
      let rest = seg.text;
      while (rest.length > 0) {
        const tag = TAGS.find((t) => rest.startsWith(t));
        if (tag) {
          control();
          rest = rest.slice(tag.length);
          continue;
        }
        const next = Math.min(...TAGS.map((t) => rest.indexOf(t)).filter((i) => i >= 0), rest.length);
        text += rest.slice(0, next);
        rest = rest.slice(next);
      }
    }
  };
  if (messages[0]?.role !== 'system') {
    control();
    text += `system\n${DEFAULT_SYSTEM_PROMPT}`;
    control();
    text += '\n';
  }
  for (const m of messages) {
    control();
    text += `${m.role}\n`;
    m.parts.forEach((p, j) => {
      if (j > 0) text += '\n';
      if (p.kind === 'text') text += p.text;
      else placeholder(images[p.index]!.plan, p.index, images[p.index]!.tokensPerImage);
    });
    control();
    text += '\n';
  }
  control();
  text += 'assistant\n';
  flush();
  return tokens;
}

/**
 * MiniCPM-V 4.6: the decoder's prompt length, built the way the decoder builds it (assemble-prompt46.ts):
 * the same messages, the tools unless tool_choice is "none", each image's per-crop token counts and
 * `<image_id>` setting, and the request's `enable_thinking` (byThinking). A tool definition or call the
 * template cannot carry is a 400 here, before anything runs (the decoder would refuse it too).
 */
export function estimatePromptTokens46(req: Pick<ValidChatRequest, 'messages' | 'tools' | 'enableThinking'>, images: readonly EstimateImage[], tok: Prompt46Tokenizer, o: { useImageId: boolean }): number {
  const { messages, imgs } = templateInputs(req.messages, images, o.useImageId, (img) => img.tokensPerImage ?? []);
  const tools = templateTools(req);
  return byThinking(req, (enableThinking) => buildPromptIds46(tok, messages, imgs, { addGenerationPrompt: true, enableThinking, ...(tools.length > 0 && { tools }) }).ids.length);
}

/**
 * MiniCPM-V 4.5, as assemble-prompt45.ts builds it: the Qwen3 template over the messages (their parts
 * as text / image items, tool calls and the tools section as for 4.6), each image `queryNum` `<unk>`
 * slots per crop in the 2.6 layout. The 2.6 walk counted a default system turn the Qwen3 template does not add and missed the
 * empty think block of the generation prompt.
 */
export function estimatePromptTokens45(req: Pick<ValidChatRequest, 'messages' | 'tools' | 'enableThinking'>, images: readonly EstimateImage[], tok: Prompt46Tokenizer, o: { queryNum: number; useImageId: boolean }): number {
  const { messages, imgs } = templateInputs(req.messages, images, o.useImageId, (img) => new Array<number>(1 + img.plan.slices.length).fill(o.queryNum));
  const tools = templateTools(req);
  return byThinking(req, (enableThinking) => buildPromptIds45(tok, messages, imgs, { addGenerationPrompt: true, enableThinking, ...(tools.length > 0 && { tools }) }).ids.length);
}

/** The tools the decoder shows the template: none when tool_choice is "none". */
function templateTools(req: Pick<ValidChatRequest, 'tools'>): ReturnType<typeof templateTool>[] {
  return req.tools && req.tools.choice !== 'none' ? req.tools.tools.map((t, i) => templateTool(t, `tools[${i}].function.parameters`)) : [];
}

/**
 * The request's `enable_thinking`, or, without one, the larger of both renderings: the decoder's
 * default (TESSERA_DECODER_ENABLE_THINKING, false) is its own setting and only changes the generation
 * prompt, so the reservation is exact with the flag or the default and never short otherwise.
 */
function byThinking(req: Pick<ValidChatRequest, 'enableThinking'>, count: (enableThinking: boolean) => number): number {
  return req.enableThinking !== undefined ? count(req.enableThinking) : Math.max(count(false), count(true));
}

/** The messages and images as the decoder hands them to a family's template builder (images in order of appearance). */
function templateInputs(msgs: readonly ValidMessage[], images: readonly EstimateImage[], useImageId: boolean, perImage: (img: EstimateImage) => number[]): { messages: ChatMessage[]; imgs: Image46[] } {
  const order: number[] = [];
  const messages: ChatMessage[] = msgs.map((m, i) => {
    const content = m.parts.map((p): ChatContentItem => {
      if (p.kind === 'text') return { type: 'text', text: p.text };
      order.push(p.index);
      return { type: 'image' };
    });
    return { role: m.role, content, ...(m.toolCalls && m.toolCalls.length > 0 && { tool_calls: templateToolCalls(m.toolCalls, (j) => `messages[${i}].tool_calls[${j}].function.arguments`) }) };
  });
  const imgs: Image46[] = order.map((k) => {
    const img = images[k]!;
    const grid = img.plan.grid;
    return { tokensPerImage: perImage(img), grid: grid ? { rows: grid.rows, cols: grid.cols } : null, useImageId };
  });
  return { messages, imgs };
}
