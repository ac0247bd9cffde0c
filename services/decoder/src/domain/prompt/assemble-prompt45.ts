/**
 * Prompt assembly for MiniCPM-V 4.5: chat messages go through the checkpoint's own chat template (Qwen3's
 * ChatML with `enable_thinking`) the way the 4.5 checkpoint's `chat` + processor do — each message's
 * parts become one string with `(<image>./</image>)` per image, parts joined by "\n" — and each image tag
 * is expanded to the 2.6 layout with 64 `<unk>` slots per crop (@tessera/model prompt45.ts). Unlike 2.6
 * no default system turn is added (the Qwen3 template adds none). Raw `prompt` parts are 2.6's rule
 * (assemble-prompt.ts): same placeholder layout, no template.
 */
import { buildPromptIds45, templateTool, templateToolCalls, type ChatMessage, type Image46 } from '@tessera/model';
import { invalidArgument } from '@tessera/runtime';
import { assemblePrompt, checkImage, type AssembledPrompt, type ModelShape } from './assemble-prompt.js';
import { chatItem, withVisualRows } from './assemble-prompt46.js';
import type { PromptTokenizer } from './prompt-tokenizer.js';
import type { PromptInput } from './prompt-types.js';
import { opensReasoning } from './reasoning.js';

export interface Prompt45Settings extends ModelShape {
  /** `enable_thinking` for the template (the checkpoint's generation_config says false; true opens `<think>\n`). */
  enableThinking: boolean;
}

export function assemblePrompt45(input: PromptInput, tok: PromptTokenizer, model: Prompt45Settings, limits: { maxImages: number }): AssembledPrompt {
  if ((input.messages?.length ?? 0) === 0) return assemblePrompt(input, tok, model, limits);
  if ((input.prompt?.length ?? 0) > 0) throw invalidArgument('messages', 'exactly one of messages and prompt must be non-empty');
  if (input.images.length > limits.maxImages) throw invalidArgument('images', `${input.images.length} images; at most ${limits.maxImages} per request`, `images <= ${limits.maxImages}`);
  input.images.forEach((img, i) => checkImage(img, i, model));

  const order: number[] = [];
  // Tools and tool turns go to the Qwen3 template (its Hermes `<tools>` section and `<tool_call>` JSON), as for 4.6.
  const messages: ChatMessage[] = input.messages!.map((m, i) => ({
    role: m.role,
    content: m.parts.map((p, j) => chatItem(p, `messages[${i}].parts[${j}]`, input.images.length, order)),
    ...(m.toolCalls && m.toolCalls.length > 0 && { tool_calls: templateToolCalls(m.toolCalls, (j) => `messages[${i}].tool.calls[${j}].arguments_json`) }),
  }));
  const tools = (input.tools ?? []).map((t) => templateTool(t, `tools[${t.name}].parameters_json`));
  input.images.forEach((_, i) => {
    if (!order.includes(i)) throw invalidArgument(`images[${i}]`, `image ${i} has visual tokens but no placeholder references it`);
  });
  const images: Image46[] = order.map((k) => {
    const img = input.images[k]!;
    const sliced = img.gridCols > 0 && img.gridRows > 0;
    return { tokensPerImage: new Array(1 + img.gridCols * img.gridRows).fill(model.queryNum), grid: sliced ? { rows: img.gridRows, cols: img.gridCols } : null, useImageId: img.useImageId };
  });
  const enableThinking = input.enableThinking ?? model.enableThinking;
  const built = buildPromptIds45(tok, messages, images, { addGenerationPrompt: true, enableThinking, ...(tools.length > 0 && { tools }) });
  return { ...withVisualRows(built, order, input.images, model.hiddenSize), reasoning: opensReasoning(built.ids, tok, enableThinking) };
}
