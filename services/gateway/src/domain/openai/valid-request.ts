import type { ValidResponseFormat, ValidTools } from './response-format.js';

/**
 * The validated form of an OpenAI chat-completions request. Everything downstream of the HTTP and
 * gRPC edges takes this type and can trust its invariants: roles are known, ranges are checked,
 * images are decoded bytes (or an allowed URL still to fetch) counted against the limits.
 */
export type Role = 'system' | 'user' | 'assistant' | 'tool';

export type ValidPart = { kind: 'text'; text: string } | { kind: 'image'; index: number } | { kind: 'video'; index: number };

/** A `{"type": "video"}` part: frames the client sampled at `fps` (MiniCPM-V 4.5, validate-video.ts). */
export interface VideoSource {
  /** `messages[i].content[j].video`, for errors. */
  field: string;
  frames: ImageSource[];
  /** Frames per second the frames were sampled at (> 0). */
  fps: number;
  /** Frames per resampler group, when the request sets it (range checked where the limits live: planVideo). */
  packing?: number;
}

export interface ValidToolCall {
  id: string;
  name: string;
  /** JSON text, as OpenAI sends `function.arguments`. */
  argumentsJson: string;
}

export interface ValidMessage {
  role: Role;
  parts: ValidPart[];
  /** Assistant history: the calls that turn made. */
  toolCalls?: ValidToolCall[];
  /** Role `tool`: the call this result answers. */
  toolCallId?: string;
}

export type ImageSource =
  | { kind: 'bytes'; bytes: Buffer; field: string }
  | { kind: 'url'; url: URL; field: string };

export interface ValidSampling {
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  presencePenalty: number;
  frequencyPenalty: number;
  repetitionPenalty: number;
  seed?: number;
  stop: string[];
  logprobs: boolean;
  topLogprobs: number;
  /** OpenAI `logit_bias`: token id → offset (-100..100); absent = none. Ids are checked against the vocabulary by the decoder. */
  logitBias?: Record<number, number>;
  /** vLLM's `ignore_eos`: the model's end-of-sequence does not end the answer (max_tokens or a stop does). */
  ignoreEos?: boolean;
  /** vLLM's `stop_token_ids`: these ids end the answer too (their text, if any, is returned). */
  stopTokenIds?: number[];
  /** vLLM's `min_tokens` (<= maxTokens): the first min_tokens tokens cannot end the answer. Absent = 0. */
  minTokens?: number;
}

export interface ValidCollection {
  name: string;
  k: number;
  filter?: Record<string, unknown>;
}

export interface ValidChatRequest {
  model: string;
  messages: ValidMessage[];
  /** Images in order of appearance; `ValidPart.index` points here. */
  images: ImageSource[];
  /** Videos in order of appearance; a `video` part's index points here. Absent = none. */
  videos?: VideoSource[];
  sampling: ValidSampling;
  /**
   * OpenAI `n` when above 1 (2..maxChoices): that many choices, each its own decoder generation
   * (domain/choices.ts). Absent = one choice, and the request is exactly what it was before `n`.
   */
  n?: number;
  stream: boolean;
  includeUsage: boolean;
  collection?: ValidCollection;
  /** Structured output (constrained decoding in the decoder). */
  responseFormat?: ValidResponseFormat;
  /** Tools, only for model families whose template supports tool calls (else refused at validation). */
  tools?: ValidTools;
  /** MiniCPM-V slicing: at most this many slices per image (1 = overview only). */
  maxSliceNums?: number;
  /** `mm_processor_kwargs.downsample_mode` (MiniCPM-V 4.6 token mode); checked against the served family downstream. */
  downsampleMode?: string;
  /** `chat_template_kwargs.enable_thinking`; unset = the decoder's default. Families without thinking (2.6) ignore it. */
  enableThinking?: boolean;
  user?: string;
  /**
   * vLLM's chat ending: `closed` = add_generation_prompt false (the messages only); `continue-final` =
   * continue_final_message (the last message's text is continued). Absent = a new assistant turn.
   */
  ending?: 'closed' | 'continue-final';
  /**
   * OpenAI text completions (`POST /v1/completions`): the prompt, given to the model verbatim (no chat
   * template; decoding.v1 `GenerateRequest.prompt`). Set, `messages` and `images` are empty and no
   * tools, response_format, collection or video are set: the request is text in, text out.
   */
  prompt?: string;
  /**
   * A text completion's prompt given as token ids (OpenAI `prompt: [ids]`; decoding.v1
   * `GenerateRequest.prompt_token_ids`), instead of `prompt`; same rules otherwise.
   */
  promptTokenIds?: number[];
  /**
   * vLLM's `prompt_logprobs` (text completions' `echo` with `logprobs: k` asks for it with k): every prompt
   * token's log-probability given the ones before it, with this many alternatives (decoding.v1
   * GenerateRequest.prompt_logprobs). Absent = none.
   */
  promptLogprobs?: number;
}

/** A text completion (a raw prompt, as text or token ids), not a chat. */
export function isCompletion(req: Pick<ValidChatRequest, 'prompt' | 'promptTokenIds'>): boolean {
  return req.prompt !== undefined || req.promptTokenIds !== undefined;
}

/** A validated `POST /v1/completions` request: the raw-prompt form of a chat request, plus how to answer it. */
export interface ValidCompletionRequest extends ValidChatRequest {
  /**
   * OpenAI `echo`: the answer's text starts with the prompt (as the decoder decodes it for a token-id
   * prompt, which then asks for prompt logprobs to get it: PromptLogprobs.text).
   */
  echo: boolean;
  /** OpenAI's `max_tokens: 0` with echo (scoring a prompt): the prompt alone is returned, nothing generated is (the decoder still runs one step). */
  echoOnly?: boolean;
  /** The request set vLLM's `prompt_logprobs`: each choice returns them in vLLM's shape (not only inside an echo's `logprobs`). */
  returnPromptLogprobs?: boolean;
  /**
   * A batch of prompts (`prompt: [p1, p2, …]`, 2..maxPrompts; `prompt` / `promptTokenIds` hold the first):
   * prompt p's choice i is the answer's choice p·n + i (OpenAI's and vLLM's order). Absent = one prompt.
   */
  batch?: Array<{ prompt: string } | { promptTokenIds: number[] }>;
}
