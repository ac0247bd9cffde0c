/**
 * Prompt assembly for MiniCPM-V 4.5: chat messages go through the checkpoint's own chat template (Qwen3's
 * ChatML with `enable_thinking`) the way the 4.5 checkpoint's `chat` + processor do — each message's
 * parts become one string with `(<image>./</image>)` per image, parts joined by "\n" — and each image tag
 * is expanded to the 2.6 layout with 64 `<unk>` slots per crop (@tessera/model prompt45.ts). Unlike 2.6
 * no default system turn is added (the Qwen3 template adds none). Raw `prompt` parts are 2.6's rule
 * (assemble-prompt.ts): same placeholder layout, no template.
 *
 * A video embedding (ImageEmbedding.video: the 3D resampler's [groups, 64, hidden]) expands to one
 * gridless `<image><unk>×64</image>` per group, without `<image_id>`, as the upstream recipe's chat
 * (one tag per frame, the processor keeping only each group's first frame) builds it.
 */
import { buildPromptIds45, type ChatContentItem, type ChatMessage, type Image46 } from '@tessera/model';
import { invalidArgument } from '@tessera/runtime';
import { assemblePrompt, checkImage, refuseVideo, type AssembledPrompt, type ModelShape } from './assemble-prompt.js';
import { chatItem, templateMessageToolCalls, templateTools, withVisualRows } from './assemble-prompt46.js';
import type { PromptTokenizer } from './prompt-tokenizer.js';
import type { PromptImage, PromptInput } from './prompt-types.js';
import { opensReasoning, templateEnding } from './reasoning.js';

export interface Prompt45Settings extends ModelShape {
  /** `enable_thinking` for the template (the checkpoint's generation_config says false; true opens `<think>\n`). */
  enableThinking: boolean;
}

export function assemblePrompt45(input: PromptInput, tok: PromptTokenizer, model: Prompt45Settings, limits: { maxImages: number }): AssembledPrompt {
  if ((input.messages?.length ?? 0) === 0) {
    input.images.forEach((img, i) => refuseVideo(img, i, 'a raw `prompt` (no chat template)'));
    return assemblePrompt(input, tok, model, limits);
  }
  if ((input.prompt?.length ?? 0) > 0) throw invalidArgument('messages', 'exactly one of messages and prompt must be non-empty');
  if (input.images.length > limits.maxImages) throw invalidArgument('images', `${input.images.length} images; at most ${limits.maxImages} per request`, `images <= ${limits.maxImages}`);
  input.images.forEach((img, i) => (img.videoGroups === undefined ? checkImage(img, i, model) : checkVideo(img, i, model)));

  // `order`: embeddings in placeholder order (their rows go over the slots in that order); `images`: one
  // Image46 per placeholder — a video part expands to one per group, which the "\n" join of content items
  // separates exactly as the processor's strip of the skipped frames' text leaves them (prompt45.test.ts).
  const order: number[] = [];
  const images: Image46[] = [];
  // Tools and tool turns go to the Qwen3 template (its Hermes `<tools>` section and `<tool_call>` JSON), as for 4.6.
  const messages: ChatMessage[] = input.messages!.map((m, i) => ({
    role: m.role,
    content: m.parts.flatMap((p, j): ChatContentItem[] => {
      const item = chatItem(p, `messages[${i}].parts[${j}]`, input.images.length, order);
      if (item.type !== 'image') return [item];
      const placeholders = placeholders45(input.images[order.at(-1)!]!, model.queryNum);
      images.push(...placeholders);
      return placeholders.map(() => item);
    }),
    ...templateMessageToolCalls(m, i),
  }));
  const tools = templateTools(input);
  input.images.forEach((_, i) => {
    if (!order.includes(i)) throw invalidArgument(`images[${i}]`, `image ${i} has visual tokens but no placeholder references it`);
  });
  const enableThinking = input.enableThinking ?? model.enableThinking;
  const built = buildPromptIds45(tok, messages, images, { ...templateEnding(input.ending), enableThinking, ...(tools.length > 0 && { tools }) });
  return { ...withVisualRows(built, order, input.images, model.hiddenSize), reasoning: opensReasoning(built.ids, tok, enableThinking, input.ending) };
}

/** An image: the 2.6 layout (overview + grid, 64 slots each); a video: one gridless, id-less `<image>` per group. */
function placeholders45(img: PromptImage, queryNum: number): Image46[] {
  if (img.videoGroups !== undefined) return Array.from({ length: img.videoGroups }, () => ({ tokensPerImage: [queryNum], grid: null, useImageId: false }));
  const sliced = img.gridCols > 0 && img.gridRows > 0;
  return [{ tokensPerImage: new Array(1 + img.gridCols * img.gridRows).fill(queryNum), grid: sliced ? { rows: img.gridRows, cols: img.gridCols } : null, useImageId: img.useImageId }];
}

/** A video embedding: [groups, queryNum, hidden], no grid, no <image_id> (the decoder never invents one). */
function checkVideo(img: PromptImage, i: number, model: ModelShape): void {
  const g = img.videoGroups!;
  if (img.gridCols !== 0 || img.gridRows !== 0) throw invalidArgument(`images[${i}].grid_cols`, `images[${i}] is a video: its frames are not sliced, so grid_cols and grid_rows must be 0`, 'grid = 0x0');
  if (img.useImageId) throw invalidArgument(`images[${i}].use_image_id`, `images[${i}] is a video: its groups carry no <image_id> (upstream use_image_id=False for video)`, 'use_image_id = false');
  const want = [g, model.queryNum, model.hiddenSize];
  if (img.shape.length !== 3 || img.shape.some((d, j) => d !== want[j]) || img.tokens.length !== g * model.queryNum * model.hiddenSize) {
    throw invalidArgument(`images[${i}].visual_tokens`, `visual tokens shape [${img.shape.join(', ')}] does not match the video's ${g} groups: [groups, queryNum ${model.queryNum}, hidden ${model.hiddenSize}] = [${want.join(', ')}]`, `shape = [${want.join(', ')}]`);
  }
}
