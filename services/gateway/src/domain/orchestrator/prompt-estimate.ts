/**
 * The prompt's token count before anything is encoded, for the quota reservation. It walks the same
 * MiniCPM-V 2.6 ChatML layout the decoder assembles (services/decoder/src/domain/prompt/assemble-prompt.ts):
 *
 *   <|im_start|>system\nYou are a helpful assistant.<|im_end|>\n      (when the first turn is not system)
 *   <|im_start|>{role}\n{parts joined by "\n"}<|im_end|>\n            (every message)
 *   <|im_start|>assistant\n                                           (generation prompt)
 *
 * with each image's placeholder from `@tessera/vision` (tags = 1 control token, U slots = queryNum
 * visual tokens each), and the text between control tokens encoded as one run with added-token
 * spellings kept as text (a typed `<image>` is text), as the decoder does. The count and the ids
 * (promptIds26, for POST /tokenize) equal the decoder's (prompt-estimate.test.ts checks both against
 * assemblePrompt).
 *
 * MiniCPM-V 4.6 and 4.5 prompts come from the checkpoint's own Jinja template, so no layout is walked
 * here: `estimatePromptTokens46` / `estimatePromptTokens45` build the prompt ids with the function the
 * decoder uses (@tessera/model buildPromptIds46: template, tools, `<|image_pad|>` expansion with the
 * slice plan's per-crop counts — (H/56)·(W/56) in 16x, (H/28)·(W/28) in 4x; buildPromptIds45: Qwen3
 * template, `<unk>` × 64 per crop in the 2.6 layout) — exact, not an estimate.
 */
import { buildPromptIds45, buildPromptIds46, templateTool, templateToolCalls, type ChatContentItem, type ChatMessage, type Image46, type Prompt46Tokenizer, type FamilyId } from '@tessera/model/text';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { IMAGE_TOKENS, imagePlaceholder, type SlicePlan } from '@tessera/vision';
import { renderToolTurns } from '@tessera/structured';
import type { ValidChatRequest, ValidMessage } from '../openai/valid-request.js';

export const DEFAULT_SYSTEM_PROMPT = 'You are a helpful assistant.';
const IM_START = '<|im_start|>';
const IM_END = '<|im_end|>';
const TAGS = [IMAGE_TOKENS.idStart, IMAGE_TOKENS.idEnd, IMAGE_TOKENS.imageStart, IMAGE_TOKENS.imageEnd, IMAGE_TOKENS.sliceStart, IMAGE_TOKENS.sliceEnd];

/**
 * The turns the decoder's template will see: with tools (tool_choice not "none"), tool calls or tool
 * results, the Hermes layout of @tessera/structured, exactly as the decoder renders it.
 */
export function promptTurns(req: Pick<ValidChatRequest, 'messages' | 'tools'>): ValidMessage[] {
  const withTools = (req.tools?.tools.length ?? 0) > 0 && req.tools?.choice !== 'none';
  if (!withTools && !req.messages.some((m) => m.role === 'tool' || m.toolCalls)) return req.messages;
  return renderToolTurns(req.messages, req.tools?.tools ?? [], withTools, DEFAULT_SYSTEM_PROMPT) as ValidMessage[];
}

/** What the 2.6 ChatML walk needs of a tokenizer: text with added-token spellings kept as text, and control ids. */
export type ChatMLTokenizer = Pick<Prompt46Tokenizer, 'encodePlain' | 'addedTokenId'>;

export interface EstimateImage {
  plan: SlicePlan;
  /** MiniCPM-V 4.6: tokens per image (overview first); unset = queryNum each. */
  tokensPerImage?: number[];
}

export interface ChatMLOptions {
  queryNum: number;
  useImageId: boolean;
  /** vLLM's chat ending (ValidChatRequest.ending); unset = a new assistant turn. */
  ending?: ValidChatRequest['ending'];
}

/** One piece of the 2.6 prompt: a control token (by spelling), a text run, or `count` visual slots. */
type ChatMLItem = { kind: 'control'; spelling: string } | { kind: 'text'; text: string } | { kind: 'visual'; count: number };

/**
 * The 2.6 layout above as pieces, with adjacent text merged into one run (the decoder encodes the text
 * between two control tokens in one piece). With `continue-final` the last message stays open and its
 * final text loses trailing whitespace, as the decoder's leaveOpen does.
 */
function chatMLItems(messages: readonly ValidMessage[], images: readonly EstimateImage[], o: ChatMLOptions): ChatMLItem[] {
  const items: ChatMLItem[] = [];
  const text = (t: string) => {
    const last = items.at(-1);
    if (last?.kind === 'text') last.text += t;
    else items.push({ kind: 'text', text: t });
  };
  const control = (spelling: string) => items.push({ kind: 'control', spelling });
  const placeholder = (plan: SlicePlan, index: number, tokensPerImage?: number[]) => {
    for (const seg of imagePlaceholder(plan, { queryNum: o.queryNum, imageIndex: index, useImageId: o.useImageId, ...(tokensPerImage && { tokensPerImage }) }).segments) {
      if (seg.kind === 'visual') {
        items.push({ kind: 'visual', count: seg.count });
        continue;
      }
      let rest = seg.text;
      while (rest.length > 0) {
        const tag = TAGS.find((t) => rest.startsWith(t));
        if (tag) {
          control(tag);
          rest = rest.slice(tag.length);
          continue;
        }
        const next = Math.min(...TAGS.map((t) => rest.indexOf(t)).filter((i) => i >= 0), rest.length);
        text(rest.slice(0, next));
        rest = rest.slice(next);
      }
    }
  };
  if (messages[0]?.role !== 'system') {
    control(IM_START);
    text(`system\n${DEFAULT_SYSTEM_PROMPT}`);
    control(IM_END);
    text('\n');
  }
  messages.forEach((m, i) => {
    const open = o.ending === 'continue-final' && i === messages.length - 1;
    control(IM_START);
    text(`${m.role}\n`);
    m.parts.forEach((p, j) => {
      if (j > 0) text('\n');
      if (p.kind === 'text') text(open && j === m.parts.length - 1 ? p.text.trimEnd() : p.text);
      else placeholder(images[p.index]!.plan, p.index, images[p.index]!.tokensPerImage);
    });
    if (open) return;
    control(IM_END);
    text('\n');
  });
  if (o.ending === undefined) {
    control(IM_START);
    text('assistant\n');
  }
  return items;
}

/** The 2.6 prompt's length: what the decoder reports as prompt_tokens (exact; no ids are looked up). */
export function estimatePromptTokens(messages: readonly ValidMessage[], images: readonly EstimateImage[], tok: Pick<ChatMLTokenizer, 'encodePlain'>, o: ChatMLOptions): number {
  let tokens = 0;
  for (const it of chatMLItems(messages, images, o)) tokens += it.kind === 'control' ? 1 : it.kind === 'visual' ? it.count : tok.encodePlain(it.text).length;
  return tokens;
}

/**
 * The 2.6 prompt ids, as the decoder's assemblePrompt builds them: control tokens by id, each text run
 * encoded with added tokens off, `<unk>` in every visual slot.
 */
export function promptIds26(messages: readonly ValidMessage[], images: readonly EstimateImage[], tok: ChatMLTokenizer, o: ChatMLOptions): number[] {
  const id = (spelling: string): number => {
    const found = tok.addedTokenId(spelling);
    if (found === undefined) throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `tokenizer.json: added token ${spelling} is missing`, { field: `added_tokens[${spelling}]` });
    return found;
  };
  const ids: number[] = [];
  for (const it of chatMLItems(messages, images, o)) {
    if (it.kind === 'control') ids.push(id(it.spelling));
    else if (it.kind === 'visual') ids.push(...new Array<number>(it.count).fill(id(IMAGE_TOKENS.unk)));
    else ids.push(...tok.encodePlain(it.text));
  }
  return ids;
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

/**
 * A text-only chat's prompt ids exactly as the decoder builds them for the served family (POST
 * /tokenize with `messages`): 2.6 through the ChatML walk with the Hermes tool turns, 4.5 / 4.6 through
 * the checkpoint's template with the tools, the ending (add_generation_prompt, continue_final_message)
 * and `enable_thinking` (the request's, else the decoder's default the caller passes).
 */
export function chatPromptIds(family: FamilyId, req: Pick<ValidChatRequest, 'messages' | 'tools' | 'enableThinking' | 'ending'>, tok: Prompt46Tokenizer, o: { defaultEnableThinking: boolean }): number[] {
  if (family === '2.6') return promptIds26(promptTurns(req), [], tok, { queryNum: 0, useImageId: false, ...(req.ending && { ending: req.ending }) });
  const { messages } = templateInputs(req.messages, [], false, () => []);
  const tools = templateTools(req);
  const opts = { addGenerationPrompt: req.ending === undefined, continueFinalMessage: req.ending === 'continue-final', enableThinking: req.enableThinking ?? o.defaultEnableThinking, ...(tools.length > 0 && { tools }) };
  return (family === '4.6' ? buildPromptIds46 : buildPromptIds45)(tok, messages, [], opts).ids;
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
