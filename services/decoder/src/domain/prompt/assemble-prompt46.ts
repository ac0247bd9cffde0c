/**
 * Prompt assembly for MiniCPM-V 4.6: the checkpoint's own chat template (Jinja, tokenizer_config.json)
 * renders the messages with one `<|image_pad|>` per image item, then each image is expanded as the 4.6
 * processor does — `[<image_id>k</image_id>]<image>{pad × n₀}</image>` and rows of
 * `<slice>{pad × nᵢ}</slice>` joined by "\n" — with the per-crop counts the slicer's vision stage made
 * (ImageEmbedding.layout.tokens_per_image: (H/56)·(W/56) in 16x, (H/28)·(W/28) in 4x). The vision rows
 * (overview, then slices row-major) are written over the pad slots in order, as HF's
 * `masked_scatter` on `image_token_id` does. The expansion itself lives in @tessera/model (prompt46.ts),
 * shared with `tessera run-stage` and the model tests.
 *
 * Unlike 2.6 (assemble-prompt.ts) no default system turn is added and message parts are not joined by
 * "\n": the template decides both (Qwen3.5 ChatML concatenates content items). Tools, assistant tool
 * calls and `tool` results go to the template too (HF's `tools=` and message `tool_calls`, arguments as
 * an object the way vLLM hands them to Qwen templates), so a real checkpoint's tools section is used
 * unchanged. Raw `prompt` parts keep decoding.v1's rule (parts joined by "\n", no template).
 */
import { buildPromptIds46, buildRawPromptIds46, templateTool, templateToolCalls, type ChatContentItem, type ChatMessage, type ChatTool, type Image46 } from '@tessera/model';
import { invalidArgument } from '@tessera/runtime';
import { checkText, refuseVideo, type AssembledPrompt } from './assemble-prompt.js';
import type { PromptTokenizer } from './prompt-tokenizer.js';
import type { ChatPromptMessage, PromptImage, PromptInput, PromptPart } from './prompt-types.js';
import { opensReasoning, templateEnding } from './reasoning.js';

export interface Prompt46Settings {
  hiddenSize: number;
  /** `enable_thinking` for the template: false for the instruct checkpoint (vLLM recipe), a thinking checkpoint's template ignores it. */
  enableThinking: boolean;
}

export function assemblePrompt46(input: PromptInput, tok: PromptTokenizer, model: Prompt46Settings, limits: { maxImages: number }): AssembledPrompt {
  const hasMessages = (input.messages?.length ?? 0) > 0;
  const hasPrompt = (input.prompt?.length ?? 0) > 0;
  if (hasMessages === hasPrompt) throw invalidArgument('messages', 'exactly one of messages and prompt must be non-empty');
  if (input.images.length > limits.maxImages) throw invalidArgument('images', `${input.images.length} images; at most ${limits.maxImages} per request`, `images <= ${limits.maxImages}`);
  input.images.forEach((img, i) => checkImage46(img, i, model.hiddenSize));

  // Images in order of appearance (the order the template emits their pads, and the k of <image_id>k).
  const order: number[] = [];
  const item = (p: PromptPart, field: string): ChatContentItem => chatItem(p, field, input.images.length, order);
  let built: { ids: number[]; imagePadPositions: number[] };
  let reasoning = false;
  if (hasMessages) {
    const messages: ChatMessage[] = input.messages!.map((m, i) => chatMessage46(m, i, (p, j) => item(p, `messages[${i}].parts[${j}]`)));
    const tools = templateTools(input);
    const enableThinking = input.enableThinking ?? model.enableThinking;
    built = buildPromptIds46(tok, messages, order.map((k) => image46(input.images[k]!)), { ...templateEnding(input.ending), enableThinking, ...(tools.length > 0 && { tools }) });
    reasoning = opensReasoning(built.ids, tok, enableThinking, input.ending);
  } else {
    const items = input.prompt!.flatMap((p, j): ChatContentItem[] => (j > 0 ? [{ type: 'text', text: '\n' }, item(p, `prompt[${j}]`)] : [item(p, `prompt[${j}]`)]));
    built = buildRawPromptIds46(tok, items as Array<{ type: 'text'; text: string } | { type: 'image' }>, order.map((k) => image46(input.images[k]!)));
  }
  input.images.forEach((_, i) => {
    if (!order.includes(i)) throw invalidArgument(`images[${i}]`, `image ${i} has visual tokens but no placeholder references it`);
  });
  return { ...withVisualRows(built, order, input.images, model.hiddenSize), reasoning };
}

/** A prompt part → a template content item; an image part's index is checked and appended to `order`. */
export function chatItem(p: PromptPart, field: string, images: number, order: number[]): ChatContentItem {
  if (p.kind === 'text') {
    checkText(p.text, `${field}.text`);
    return { type: 'text', text: p.text };
  }
  const k = p.imageIndex;
  if (!Number.isInteger(k) || k < 0 || k >= images) {
    throw invalidArgument(`${field}.image.image_index`, `image_index ${k} is outside the ${images} images of the request`, `0 <= image_index < ${images}`);
  }
  order.push(k);
  return { type: 'image' };
}

/** Built ids + the images' token rows concatenated in placeholder order → the assembled prompt. */
export function withVisualRows(built: { ids: number[]; imagePadPositions: number[] }, order: number[], images: PromptImage[], hidden: number): AssembledPrompt {
  const tokenIds = Int32Array.from(built.ids);
  const n = built.imagePadPositions.length;
  if (n === 0) return { tokenIds, visualTokens: 0 };
  const embeddings = new Float32Array(n * hidden);
  let off = 0;
  for (const k of order) {
    const t = images[k]!.tokens;
    embeddings.set(t, off);
    off += t.length;
  }
  return { tokenIds, visual: { positions: Int32Array.from(built.imagePadPositions), embeddings }, visualTokens: n };
}

/** A message for the template; call arguments (OpenAI JSON text) become the object templates iterate. */
function chatMessage46(m: ChatPromptMessage, i: number, item: (p: PromptPart, j: number) => ChatContentItem): ChatMessage {
  return { role: m.role, content: m.parts.map(item), ...templateMessageToolCalls(m, i) };
}

/**
 * An assistant message's tool calls as the template reads them (`tool_calls`, arguments parsed to an
 * object; bad JSON → 400 naming `messages[i].tool.calls[j].arguments_json`); none = no key. Shared by
 * the 4.5 and 4.6 builders (both render tools through the checkpoint's Qwen template).
 */
export function templateMessageToolCalls(m: ChatPromptMessage, i: number): Pick<ChatMessage, 'tool_calls'> {
  return m.toolCalls && m.toolCalls.length > 0 ? { tool_calls: templateToolCalls(m.toolCalls, (j) => `messages[${i}].tool.calls[${j}].arguments_json`) } : {};
}

/** The request's tools for the template's tools section (parameters parsed; bad JSON → 400 naming the tool). */
export function templateTools(input: PromptInput): ChatTool[] {
  return (input.tools ?? []).map((t) => templateTool(t, `tools[${t.name}].parameters_json`));
}

function image46(img: PromptImage): Image46 {
  const sliced = img.gridCols > 0 && img.gridRows > 0;
  return { tokensPerImage: img.tokensPerImage!, grid: sliced ? { rows: img.gridRows, cols: img.gridCols } : null, useImageId: img.useImageId };
}

function checkImage46(img: PromptImage, i: number, hidden: number): void {
  refuseVideo(img, i, 'MiniCPM-V 4.6');
  const { gridCols: c, gridRows: r } = img;
  if (!Number.isInteger(c) || !Number.isInteger(r) || c < 0 || r < 0 || (c === 0) !== (r === 0)) {
    throw invalidArgument(`images[${i}].grid_cols`, `grid ${c}×${r}: both 0 (not sliced) or both >= 1`);
  }
  const per = img.tokensPerImage;
  const field = `images[${i}].layout.tokens_per_image`;
  if (!per || per.length === 0) throw invalidArgument(field, `MiniCPM-V 4.6 visual tokens need layout.tokens_per_image (this model has no resampler: tokens per crop vary)`);
  const crops = 1 + c * r;
  if (per.length !== crops) throw invalidArgument(field, `${per.length} entries; the ${c}×${r} grid has ${crops} images (overview + slices)`, `entries = ${crops}`);
  per.forEach((n, j) => {
    if (!Number.isInteger(n) || n < 1) throw invalidArgument(`${field}[${j}]`, `tokens per image must be an integer >= 1, got ${n}`, '>= 1');
  });
  const total = per.reduce((a, b) => a + b, 0);
  const want = [total, hidden];
  if (img.shape.length !== 2 || img.shape[0] !== total || img.shape[1] !== hidden) {
    throw invalidArgument(`images[${i}].visual_tokens`, `visual tokens shape [${img.shape.join(', ')}] does not match the layout: [sum(tokens_per_image) ${total}, hidden ${hidden}]`, `shape = [${want.join(', ')}]`);
  }
  if (img.tokens.length !== total * hidden) throw invalidArgument(`images[${i}].visual_tokens`, `visual tokens hold ${img.tokens.length} values, shape [${want.join(', ')}] needs ${total * hidden}`);
}
