/** Domain shapes of a prompt before tokenisation (transport-neutral mirror of decoding.v1). */
import type { ParsedToolCall, ToolSpec } from '@tessera/structured';

export type PromptPart = { kind: 'text'; text: string } | { kind: 'image'; imageIndex: number };

export type Role = 'system' | 'user' | 'assistant';

export interface PromptMessage {
  role: Role;
  parts: PromptPart[];
}

/** A chat message as the request carries it: tool results (`tool`) and assistant tool calls included. */
export interface ChatPromptMessage {
  role: Role | 'tool';
  parts: PromptPart[];
  toolCalls?: readonly ParsedToolCall[];
}

/** One image's visual tokens and its slice grid. */
export interface PromptImage {
  /**
   * 2.6: the resampler's [images, queryNum, hidden] row-major float32 (images = 1 + cols·rows).
   * 4.6 (no resampler): the vision stage's [sum(tokensPerImage), hidden].
   */
  tokens: Float32Array;
  /** Shape as received, checked against the grid and the model. */
  shape: number[];
  gridCols: number;
  gridRows: number;
  useImageId: boolean;
  /** 4.6: tokens per image (overview, then slices row-major), from ImageEmbedding.layout; unset for 2.6. */
  tokensPerImage?: number[];
  /**
   * A video (MiniCPM-V 4.5, ImageEmbedding.video): the number of frame groups; `tokens` is then
   * [groups, queryNum, hidden] and the part expands to one gridless `<image>` per group. Unset = an image.
   */
  videoGroups?: number;
}

export interface PromptInput {
  /** Chat messages (the chat template is applied) … */
  messages?: ChatPromptMessage[];
  /** Tools the template shows the model (empty or absent: no tools section, e.g. tool_choice "none"). */
  tools?: readonly ToolSpec[];
  /** … or raw parts used verbatim. */
  prompt?: PromptPart[];
  images: PromptImage[];
  /** The request's `enable_thinking` for the chat template; unset = the model's default (TESSERA_DECODER_ENABLE_THINKING). */
  enableThinking?: boolean;
  /** How the chat ends (vLLM's add_generation_prompt / continue_final_message); unset = a new assistant turn is opened. */
  ending?: ChatEnding;
}

/**
 * `open-turn`: the messages closed, then the generation prompt (the default); `closed`: the messages
 * only (add_generation_prompt false); `continue-final`: the last message left open, its text continued
 * (continue_final_message, assistant prefill).
 */
export type ChatEnding = 'open-turn' | 'closed' | 'continue-final';
