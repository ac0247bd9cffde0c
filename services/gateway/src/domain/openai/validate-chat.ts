import { endHoldingConflict } from '@tessera/contracts';
import { invalidArgument, TesseraError, ErrorCode } from '@tessera/runtime';
import type { ChatLimits } from './limits.js';
import { modelFeatures, parseResponseFormat, parseTools, type ModelFeatures } from './response-format.js';
import { asObject, int, optBool, str } from './json-fields.js';
import { parseChoiceCount, parseModel, parsePromptLogprobs, parseSampling, parseStreaming, thinkingForEffort } from './validate-common.js';

import type { ImageSource, Role, ValidChatRequest, ValidMessage, ValidPart, ValidSampling, ValidToolCall, VideoSource } from './valid-request.js';
import { parseVideoPart, refuseVideoUrl } from './validate-video.js';

const DEFAULT_FEATURES: ModelFeatures = modelFeatures('2.6');

/**
 * OpenAI `POST /v1/chat/completions` body → `ValidChatRequest`, or an INVALID_ARGUMENT naming the
 * field (as a JSON path) and the limit. Unknown extra fields are ignored, as OpenAI clients expect
 * (SDKs send fields like `metadata` or `store` that we have no use for).
 */
export function validateChatRequest(
  body: unknown,
  limits: ChatLimits,
  knownModels: readonly string[],
  /** The served family's features, or per model (an edge site serves its own and hub models). */
  features: ModelFeatures | ((model: string) => ModelFeatures) = DEFAULT_FEATURES,
  whereModelsRun?: string,
): ValidChatRequest {
  const root = asObject(body, 'body');
  const model = parseModel(root, knownModels, whereModelsRun);
  if (!Array.isArray(root.messages)) throw invalidArgument('messages', 'messages must be an array of message objects');
  if (root.messages.length === 0) throw invalidArgument('messages', 'messages must contain at least one message', 'messages >= 1');
  if (root.messages.length > limits.maxMessages) {
    throw invalidArgument('messages', `too many messages: ${root.messages.length}`, `messages <= ${limits.maxMessages}`);
  }
  const served = typeof features === 'function' ? features(model) : features;
  const images: ImageSource[] = [];
  const videos: VideoSource[] = [];
  let textChars = 0;
  const messages: ValidMessage[] = root.messages.map((raw: unknown, i: number) => {
    const field = `messages[${i}]`;
    const m = asObject(raw, field);
    const role = parseRole(m.role, `${field}.role`);
    const toolCalls = role === 'assistant' ? parseToolCalls(m.tool_calls, `${field}.tool_calls`) : undefined;
    if (role !== 'assistant' && m.tool_calls !== undefined && m.tool_calls !== null) throw invalidArgument(`${field}.tool_calls`, 'only assistant messages carry tool_calls');
    // An assistant turn that only called tools has `content: null` (what OpenAI returns and SDKs echo back).
    const parts = toolCalls && (m.content === null || m.content === undefined || m.content === '') ? [] : parseContent(m.content, `${field}.content`, role, limits, images, { features: served, videos });
    for (const p of parts) if (p.kind === 'text') textChars += p.text.length;
    for (const c of toolCalls ?? []) textChars += c.argumentsJson.length;
    if (role === 'tool') return { role, parts, toolCallId: str(m.tool_call_id, `${field}.tool_call_id`) };
    return { role, parts, ...(toolCalls && { toolCalls }) };
  });
  if (textChars > limits.maxTextChars) {
    throw invalidArgument('messages', `text too long: ${textChars} characters`, `total text <= ${limits.maxTextChars} characters`);
  }
  const ending = parseChatEnding(root, messages);
  checkToolResults(messages);
  const { stream, includeUsage } = parseStreaming(root);
  const n = parseChoiceCount(root, limits);

  const responseFormat = parseResponseFormat(root.response_format);
  const tools = parseTools(root.tools, root.tool_choice, served, model, root.parallel_tool_calls);
  const sampling: ValidSampling = {
    ...parseSampling(root, limits, { fields: ['max_completion_tokens', 'max_tokens'], default: limits.defaultMaxTokens }),
    ...parseChatLogprobs(root, limits),
  };
  // Constrained: a response_format, or a forced call (tool_choice "required" or a name; parseTools normalised "auto" to '').
  const endHeld = (responseFormat !== undefined || (tools !== undefined && tools.choice !== '' && tools.choice !== 'none')) && endHoldingConflict(sampling);
  if (endHeld) throw invalidArgument(endHeld.field, endHeld.message);
  const promptLogprobs = parsePromptLogprobs(root, limits);
  // As vLLM: chat returns prompt logprobs in the whole response only (its chunks have no place for them).
  if (promptLogprobs.promptLogprobs !== undefined && stream) throw invalidArgument('prompt_logprobs', 'prompt_logprobs is not available with stream: true on chat completions; ask without streaming, or use /v1/completions');
  return {
    model,
    messages,
    images,
    ...(videos.length > 0 && { videos }),
    sampling,
    ...(responseFormat && { responseFormat }),
    ...(tools && { tools }),
    ...(n > 1 && { n }),
    stream,
    includeUsage,
    ...(root.collection !== undefined && root.collection !== null && { collection: parseCollection(root.collection, limits) }),
    ...(root.max_slice_nums !== undefined && { maxSliceNums: int(root.max_slice_nums, 'max_slice_nums', 1, limits.maxSliceNums) }),
    ...parseMmProcessorKwargs(root.mm_processor_kwargs),
    ...parseThinking(root),
    ...(ending && { ending }),
    ...promptLogprobs,
    ...(typeof root.user === 'string' && { user: root.user }),
  };
}

/** Chat's log probabilities: `logprobs` (a boolean) and `top_logprobs` alternatives per token (0..limit). */
function parseChatLogprobs(root: Record<string, unknown>, limits: ChatLimits): Pick<ValidSampling, 'logprobs' | 'topLogprobs'> {
  const logprobs = optBool(root.logprobs, 'logprobs') ?? false;
  const topLogprobs = root.top_logprobs === undefined || root.top_logprobs === null ? 0 : int(root.top_logprobs, 'top_logprobs', 0, limits.maxTopLogprobs);
  if (topLogprobs > 0 && !logprobs) throw invalidArgument('top_logprobs', 'top_logprobs requires logprobs: true');
  return { logprobs, topLogprobs };
}

/**
 * vLLM's `add_generation_prompt` [true] and `continue_final_message` [false]. A last assistant message
 * without them is closed and answered after, as OpenAI and vLLM do; with continue_final_message it is
 * left open and continued (assistant prefill). vLLM needs `add_generation_prompt: false` spelled out
 * next to it; here unset is enough, and both true is refused as there.
 */
function parseChatEnding(root: Record<string, unknown>, messages: ValidMessage[]): ValidChatRequest['ending'] {
  const addGenerationPrompt = optBool(root.add_generation_prompt, 'add_generation_prompt');
  const continueFinal = optBool(root.continue_final_message, 'continue_final_message') ?? false;
  if (!continueFinal) return addGenerationPrompt === false ? 'closed' : undefined;
  if (addGenerationPrompt) throw invalidArgument('continue_final_message', 'continue_final_message and add_generation_prompt cannot both be true: the last message is continued, so no new turn is opened');
  const i = messages.length - 1;
  const last = messages[i]!.parts.at(-1);
  if (last?.kind !== 'text' || last.text.trim() === '') throw invalidArgument(`messages[${i}].content`, 'continue_final_message: the last message must end with text to continue');
  return 'continue-final';
}

/**
 * vLLM's `mm_processor_kwargs`: only `downsample_mode` (MiniCPM-V 4.6: "16x" | "4x") is understood;
 * whether the served model has that mode is checked where the model family is known (image pipeline).
 * Any other key is refused by name rather than silently ignored: it would change nothing here.
 */
function parseMmProcessorKwargs(raw: unknown): { downsampleMode?: string } {
  if (raw === undefined || raw === null) return {};
  const o = asObject(raw, 'mm_processor_kwargs');
  for (const k of Object.keys(o)) {
    if (k !== 'downsample_mode') throw invalidArgument(`mm_processor_kwargs.${k}`, `mm_processor_kwargs.${k} is not supported (supported: downsample_mode)`, 'downsample_mode');
  }
  if (o.downsample_mode === undefined || o.downsample_mode === null) return {};
  return { downsampleMode: str(o.downsample_mode, 'mm_processor_kwargs.downsample_mode') };
}

/**
 * vLLM's `chat_template_kwargs`: `enable_thinking` (a boolean) reaches the checkpoint's chat template;
 * a family whose template has no thinking (2.6) ignores it, and other keys are ignored, as vLLM drops
 * kwargs the template does not use. With constrained output (response_format, a forced tool choice) the
 * decoder starts the constraint after `</think>`, as vLLM does.
 */
/**
 * Thinking on or off for this request: vLLM's `chat_template_kwargs.enable_thinking`, or OpenAI's
 * `reasoning_effort` (validate-common.ts thinkingForEffort); both set and disagreeing is a 400 naming
 * `reasoning_effort`. Neither = the decoder's default.
 */
function parseThinking(root: Record<string, unknown>): { enableThinking?: boolean } {
  const kwargs = root.chat_template_kwargs === undefined || root.chat_template_kwargs === null ? {} : asObject(root.chat_template_kwargs, 'chat_template_kwargs');
  const enableThinking = optBool(kwargs.enable_thinking, 'chat_template_kwargs.enable_thinking');
  const byEffort = root.reasoning_effort === undefined || root.reasoning_effort === null ? undefined : thinkingForEffort(root.reasoning_effort, 'reasoning_effort');
  if (enableThinking !== undefined && byEffort !== undefined && enableThinking !== byEffort) {
    throw invalidArgument('reasoning_effort', `reasoning_effort ${String(root.reasoning_effort)} turns thinking ${byEffort ? 'on' : 'off'}, chat_template_kwargs.enable_thinking turns it ${enableThinking ? 'on' : 'off'}: give one`);
  }
  const on = enableThinking ?? byEffort;
  return on === undefined ? {} : { enableThinking: on };
}

function parseCollection(raw: unknown, limits: ChatLimits): NonNullable<ValidChatRequest['collection']> {
  if (typeof raw === 'string') return { name: collectionName(raw, 'collection'), k: 4 };
  const c = asObject(raw, 'collection');
  const name = collectionName(c.name, 'collection.name');
  const k = c.k === undefined ? 4 : int(c.k, 'collection.k', 1, limits.maxCollectionK);
  const filter = c.filter === undefined || c.filter === null ? undefined : asObject(c.filter, 'collection.filter');
  return { name, k, ...(filter && { filter }) };
}

function collectionName(raw: unknown, field: string): string {
  const name = str(raw, field);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name)) {
    throw invalidArgument(field, 'collection names are 1–128 characters of letters, digits, "_", "-" and "."', 'length <= 128');
  }
  return name;
}

const ROLES: Record<string, Role> = { system: 'system', developer: 'system', user: 'user', assistant: 'assistant', tool: 'tool' };

function parseRole(raw: unknown, field: string): Role {
  const role = typeof raw === 'string' ? ROLES[raw] : undefined;
  if (!role) throw invalidArgument(field, `unknown role ${JSON.stringify(raw)}; expected one of system, developer, user, assistant, tool`);
  return role;
}

/** Every `tool` message answers a call made by an earlier assistant message (as OpenAI requires). */
function checkToolResults(messages: readonly ValidMessage[]): void {
  const made = new Set<string>();
  messages.forEach((m, i) => {
    for (const c of m.toolCalls ?? []) made.add(c.id);
    if (m.role === 'tool' && !made.has(m.toolCallId!)) {
      throw invalidArgument(`messages[${i}].tool_call_id`, `tool_call_id "${m.toolCallId}" does not answer a tool call of an earlier assistant message`);
    }
  });
}

/** An assistant message's `tool_calls` (history sent back by the client); absent or empty = none. */
function parseToolCalls(raw: unknown, field: string): ValidToolCall[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) throw invalidArgument(field, `${field} must be an array of tool calls`);
  if (raw.length === 0) return undefined;
  return raw.map((c: unknown, i: number) => {
    const f = `${field}[${i}]`;
    const o = asObject(c, f);
    if (o.type !== undefined && o.type !== 'function') throw invalidArgument(`${f}.type`, `tool call type must be "function", not ${JSON.stringify(o.type)}`);
    const fn = asObject(o.function, `${f}.function`);
    const args = fn.arguments === undefined || fn.arguments === null ? '{}' : fn.arguments;
    return { id: str(o.id, `${f}.id`), name: str(fn.name, `${f}.function.name`), argumentsJson: typeof args === 'string' ? args : JSON.stringify(args) };
  });
}

function parseContent(raw: unknown, field: string, role: Role, limits: ChatLimits, images: ImageSource[], v: { features: ModelFeatures; videos: VideoSource[] }): ValidPart[] {
  if (typeof raw === 'string') return [{ kind: 'text', text: raw }];
  if (raw === null || raw === undefined) throw invalidArgument(field, 'content is required (a string or an array of content parts)');
  if (!Array.isArray(raw)) throw invalidArgument(field, 'content must be a string or an array of content parts');
  if (raw.length === 0) throw invalidArgument(field, 'content must not be an empty array');
  return raw.map((p: unknown, j: number): ValidPart => {
    const pf = `${field}[${j}]`;
    const part = asObject(p, pf);
    if (part.type === 'text') return { kind: 'text', text: str(part.text, `${pf}.text`, true) };
    if (part.type === 'image_url') {
      if (role !== 'user') throw invalidArgument(`${pf}.type`, `images are only accepted in user messages, not in ${role} messages`);
      if (images.length >= limits.maxImagesPerRequest) {
        throw invalidArgument(pf, `too many images: more than ${limits.maxImagesPerRequest}`, `images per request <= ${limits.maxImagesPerRequest}`);
      }
      const imageUrl = part.image_url;
      const url = typeof imageUrl === 'string' ? imageUrl : str(asObject(imageUrl, `${pf}.image_url`).url, `${pf}.image_url.url`);
      images.push(parseImageUrl(url, `${pf}.image_url.url`, limits));
      return { kind: 'image', index: images.length - 1 };
    }
    if (part.type === 'video') {
      parseVideoPart(part, pf, { role, limits, features: v.features, videos: v.videos, parseImageUrl });
      return { kind: 'video', index: v.videos.length - 1 };
    }
    if (part.type === 'video_url') refuseVideoUrl(pf);
    throw invalidArgument(`${pf}.type`, `unsupported content part type ${JSON.stringify(part.type)}; expected "text", "image_url" or "video"`);
  });
}

const DATA_URL = /^data:([a-zA-Z0-9.+-]+\/(?:[a-zA-Z0-9.+-]+|\*))?((?:;[^;,]+)*?);base64,(.*)$/s;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A base64 `data:` URL's media type ('' when none) and payload (whitespace removed), or undefined when it is not one. */
export function dataUrlParts(url: string): { mime: string; payload: string } | undefined {
  const m = DATA_URL.exec(url);
  return m ? { mime: m[1] ?? '', payload: m[3]!.replace(/\s+/g, '') } : undefined;
}

function parseImageUrl(url: string, field: string, limits: ChatLimits): ImageSource {
  if (url.startsWith('data:')) {
    const parts = dataUrlParts(url);
    if (!parts) throw invalidArgument(field, 'data URLs must be base64-encoded: data:image/<type>;base64,<data>');
    const { mime, payload } = parts;
    if (mime && !mime.startsWith('image/')) throw invalidArgument(field, `data URL media type ${mime} is not an image`);
    if (payload.length === 0 || payload.length % 4 === 1 || !BASE64.test(payload)) throw invalidArgument(field, 'data URL has invalid base64 data');
    const approxBytes = Math.floor((payload.length * 3) / 4);
    if (approxBytes > limits.maxImageBytes) {
      throw invalidArgument(field, `image is ${approxBytes} bytes`, `image bytes <= ${limits.maxImageBytes}`);
    }
    return { kind: 'bytes', bytes: Buffer.from(payload, 'base64'), field };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidArgument(field, 'image_url.url must be a data: URL or an http(s) URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalidArgument(field, `unsupported URL scheme ${parsed.protocol}`);
  if (!limits.allowRemoteImages) {
    throw invalidArgument(field, 'fetching remote image URLs is disabled on this deployment; send the image as a data: URL (TESSERA_GATEWAY_ALLOW_REMOTE_IMAGES)');
  }
  if (limits.remoteImageAllowList.length > 0 && !limits.remoteImageAllowList.includes(parsed.hostname)) {
    throw new TesseraError(ErrorCode.PERMISSION_DENIED, `image host ${parsed.hostname} is not on the allow-list`, { field });
  }
  return { kind: 'url', url: parsed, field };
}
