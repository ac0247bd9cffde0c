/**
 * OpenAI `POST /v1/responses` body → the chat request it is, validated by the chat validator.
 *
 * The body is rewritten into chat's shape (as the gRPC edge rewrites its proto: service.ts toOpenAi)
 * and checked by `validateChatRequest`, so limits, ranges and 400 messages are chat's; a chat field
 * path in an error is translated back into the Responses body's (`messages[2].content[0]` →
 * `input[1].content[0]`, `max_completion_tokens` → `max_output_tokens`, `tools[0].function.parameters`
 * → `tools[0].parameters`, `response_format.json_schema.schema` → `text.format.schema`).
 * `previous_response_id`: the caller reads the stored conversation (domain/responses) and passes it
 * as `prior`; its items come before this request's `input` and the whole is validated as one chat
 * (same limits); an error inside them names `previous_response_id`, one in `input` its own index.
 * A Responses feature this server cannot honour is a 400 naming the field, never dropped:
 * built-in tools, `conversation` objects, `item_reference` items, images by `file_id`, `background`,
 * reusable `prompt`s, `truncation: "auto"`, `max_tool_calls`, `include` values other than output
 * logprobs. Unknown fields are ignored, as on chat.
 */
import { ErrorCode, TesseraError, invalidArgument } from '@tessera/runtime';
import type { ChatLimits } from './limits.js';
import type { ModelFeatures } from './response-format.js';
import { asObject, optBool, str } from './json-fields.js';
import { validateChatRequest } from './validate-chat.js';
import { thinkingForEffort } from './validate-common.js';
import type { ValidChatRequest } from './valid-request.js';

/** What a Response object echoes of its request (OpenAI returns the effective parameters). */
export interface ResponsesEcho {
  instructions: string | null;
  maxOutputTokens: number | null;
  /** The tools as the request gave them (function tools, flat). */
  tools: Record<string, unknown>[];
  toolChoice: unknown;
  parallelToolCalls: boolean;
  /** `text` as given, `{format: {type: "text"}}` when absent. */
  text: Record<string, unknown>;
  reasoning: { effort: string | null; summary: string | null };
  metadata: Record<string, string>;
  topLogprobs: number;
  user: string | null;
  /** `previous_response_id` as given (its conversation came before `input`), or null. */
  previousResponseId: string | null;
  /** `store` as asked (OpenAI's default: true); the answer says whether it was stored. */
  store: boolean;
  /** This request's `input` as items (a string as one user message): what a stored response keeps of it. */
  input: unknown[];
}

/** A stored conversation this request continues (`previous_response_id`): its items, images as data: URLs. */
export interface PriorItems {
  id: string;
  items: unknown[];
}

/** A validated `/v1/responses` request: a chat request (one output) plus what the Response echoes. */
export interface ValidResponsesRequest extends ValidChatRequest {
  responses: ResponsesEcho;
}

const SUMMARY = new Set(['auto', 'concise', 'detailed']);
/** `include` values: output logprobs are served; reasoning is returned in clear, so there is nothing encrypted to include. */
const INCLUDE = new Set(['message.output_text.logprobs', 'reasoning.encrypted_content']);
/** Fields that need state or machinery this server does not have: refused by name when set. */
const REFUSED: Record<string, string> = {
  conversation: 'conversations are not stored on this server; send the whole conversation in `input`',
  prompt: 'reusable prompt templates are not available on this server; send `instructions` and `input`',
  max_tool_calls: 'max_tool_calls is not supported; use parallel_tool_calls: false for at most one call per turn',
};
/** Chat parameters the Responses body carries under the same name and meaning (vLLM's extras included). */
const SAME_NAME = ['temperature', 'top_p', 'user', 'seed', 'stop', 'top_k', 'min_p', 'repetition_penalty', 'presence_penalty', 'frequency_penalty', 'max_slice_nums', 'mm_processor_kwargs', 'collection'] as const;

type FieldMap = Array<[chat: string, responses: string]>;

export function validateResponsesRequest(
  body: unknown,
  limits: ChatLimits,
  knownModels: readonly string[],
  features?: ModelFeatures | ((model: string) => ModelFeatures),
  whereModelsRun?: string,
  prior?: PriorItems,
): ValidResponsesRequest {
  const root = asObject(body, 'body');
  try {
    const { chat, fields, echo } = toChatBody(root, prior);
    let valid: ValidChatRequest;
    try {
      valid = validateChatRequest(chat, limits, knownModels, features, whereModelsRun);
    } catch (err) {
      throw renameField(err, fields);
    }
    return { ...valid, responses: { ...echo, maxOutputTokens: root.max_output_tokens === undefined || root.max_output_tokens === null ? null : valid.sampling.maxTokens } };
  } catch (err) {
    throw prior ? priorField(err, prior, typeof root.input === 'string') : err;
  }
}

/** `input` as items: a string is one user message. */
export function inputItems(raw: unknown): unknown[] {
  return typeof raw === 'string' ? [{ type: 'message', role: 'user', content: raw }] : Array.isArray(raw) ? raw : [];
}

/**
 * An error's `input[j]` in the continued conversation, back in the request's terms: j below the
 * stored items' count is the previous response's (`previous_response_id`), the rest this `input`'s
 * own index (or `input` itself when it was a string); a limit on the whole conversation says so.
 */
function priorField(err: unknown, prior: PriorItems, stringInput: boolean): unknown {
  if (!(err instanceof TesseraError) || typeof err.details.field !== 'string') return err;
  const field = err.details.field;
  const n = prior.items.length;
  if (field === 'input') {
    return new TesseraError(err.code, `${err.message} (the conversation of previous_response_id "${prior.id}", ${n} items, then this input)`, err.details, { cause: err });
  }
  const m = /^input\[(\d+)\](.*)$/s.exec(field);
  if (!m) return err;
  const j = Number(m[1]);
  if (j < n) return new TesseraError(err.code, `previous_response_id: in the conversation of response "${prior.id}": ${err.message}`, { ...err.details, field: 'previous_response_id' }, { cause: err });
  return renameField(err, [[`input[${j}]`, stringInput ? 'input' : `input[${j - n}]`]]);
}

/** The chat body a Responses body is, with the chat paths its parts land at and what the answer echoes. */
export function toChatBody(root: Record<string, unknown>, prior?: PriorItems): { chat: Record<string, unknown>; fields: FieldMap; echo: Omit<ResponsesEcho, 'maxOutputTokens'> } {
  for (const [field, why] of Object.entries(REFUSED)) if (root[field] !== undefined && root[field] !== null) throw invalidArgument(field, `${field}: ${why}`);
  if (optBool(root.background, 'background')) throw invalidArgument('background', 'background responses are not available on this server (nothing is stored to poll); stream instead');
  if (root.truncation !== undefined && root.truncation !== null && root.truncation !== 'disabled') {
    throw invalidArgument('truncation', `truncation ${JSON.stringify(root.truncation)} is not supported: the conversation is never cut here; only "disabled" (an input over the context is a 400)`);
  }
  const store = optBool(root.store, 'store') !== false;
  const previousResponseId = root.previous_response_id === undefined || root.previous_response_id === null ? null : str(root.previous_response_id, 'previous_response_id');
  // The caller resolves a previous response (HTTP handler); one it could not (nothing stored here) is unknown.
  if (previousResponseId !== null && prior?.id !== previousResponseId) throw new TesseraError(ErrorCode.NOT_FOUND, `previous_response_id: no stored response "${previousResponseId}" (never stored, expired or deleted)`, { field: 'previous_response_id' });
  const fields: FieldMap = [
    ['messages', 'input'],
    ['max_completion_tokens', 'max_output_tokens'],
    ['response_format.json_schema.schema', 'text.format.schema'],
    ['response_format.json_schema.name', 'text.format.name'],
    ['response_format.json_schema.strict', 'text.format.strict'],
    ['response_format.json_schema', 'text.format'],
    ['response_format.type', 'text.format.type'],
    ['response_format', 'text.format'],
    ['tool_choice.function.name', 'tool_choice.name'],
    ['chat_template_kwargs.enable_thinking', 'reasoning.effort'],
  ];
  const instructions = root.instructions === undefined || root.instructions === null ? null : str(root.instructions, 'instructions', true);
  const messages: Record<string, unknown>[] = [];
  if (instructions !== null) {
    fields.push(['messages[0].content', 'instructions'], ['messages[0]', 'instructions']);
    messages.push({ role: 'system', content: instructions });
  }
  if (prior && typeof root.input !== 'string' && !Array.isArray(root.input)) throw invalidArgument('input', 'input must be a string or an array of input items');
  messages.push(...inputMessages(prior ? [...prior.items, ...inputItems(root.input)] : root.input, fields, messages.length));
  const tools = functionTools(root.tools, fields);
  const include = includes(root.include);
  const reasoning = parseReasoning(root.reasoning);
  const text = textFormat(root.text);
  const chat: Record<string, unknown> = {
    model: root.model,
    messages,
    ...Object.fromEntries(SAME_NAME.filter((k) => root[k] !== undefined).map((k) => [k, root[k]])),
    ...(root.max_output_tokens !== undefined && { max_completion_tokens: root.max_output_tokens }),
    ...(root.stream !== undefined && { stream: root.stream }),
    ...(tools && { tools: tools.chat }),
    ...(root.tool_choice !== undefined && root.tool_choice !== null && { tool_choice: toolChoice(root.tool_choice) }),
    ...(root.parallel_tool_calls !== undefined && { parallel_tool_calls: root.parallel_tool_calls }),
    ...(text.format && { response_format: text.format }),
    ...(reasoning.enableThinking !== undefined && { chat_template_kwargs: { enable_thinking: reasoning.enableThinking } }),
    // vLLM: `top_logprobs` alternatives per token, returned when `include` asks for output logprobs.
    ...(include.has('message.output_text.logprobs') && { logprobs: true, ...(root.top_logprobs !== undefined && { top_logprobs: root.top_logprobs }) }),
  };
  return {
    chat,
    fields,
    echo: {
      instructions,
      tools: tools?.given ?? [],
      toolChoice: root.tool_choice ?? 'auto',
      parallelToolCalls: root.parallel_tool_calls !== false,
      text: text.echo,
      reasoning: { effort: reasoning.effort, summary: reasoning.summary },
      metadata: parseMetadata(root.metadata),
      topLogprobs: typeof root.top_logprobs === 'number' ? root.top_logprobs : 0,
      user: typeof root.user === 'string' ? root.user : null,
      previousResponseId,
      store,
      input: inputItems(root.input),
    },
  };
}

/**
 * `input`: a string (one user message) or items: messages (`type: "message"` optional), function
 * calls (joined onto the assistant message before them, as chat's `tool_calls`) and their outputs
 * (chat `tool` messages). Reasoning items are history the chat templates do not render (as chat's
 * `reasoning_content` on an assistant message), so they are skipped.
 */
function inputMessages(raw: unknown, fields: FieldMap, offset: number): Record<string, unknown>[] {
  if (typeof raw === 'string') {
    fields.push([`messages[${offset}].content`, 'input'], [`messages[${offset}]`, 'input']);
    return [{ role: 'user', content: raw }];
  }
  if (!Array.isArray(raw)) throw invalidArgument('input', 'input must be a string or an array of input items');
  if (raw.length === 0) throw invalidArgument('input', 'input must contain at least one item', 'input items >= 1');
  const out: Record<string, unknown>[] = [];
  const calls = new Set<string>();
  // The assistant message the next function_call joins (reset by anything but reasoning).
  let assistant: { message: Record<string, unknown>; index: number } | undefined;
  raw.forEach((item: unknown, i: number) => {
    const field = `input[${i}]`;
    const it = asObject(item, field);
    const type = it.type ?? (it.role !== undefined ? 'message' : undefined);
    const k = offset + out.length;
    if (type === 'reasoning') return;
    if (type === 'function_call') {
      const callId = str(it.call_id, `${field}.call_id`);
      const name = str(it.name, `${field}.name`);
      const args = it.arguments === undefined || it.arguments === null ? '{}' : str(it.arguments, `${field}.arguments`, true);
      if (!assistant) {
        assistant = { message: { role: 'assistant', content: null }, index: k };
        out.push(assistant.message);
      }
      const list = (assistant.message.tool_calls ??= []) as unknown[];
      const at = `messages[${assistant.index}].tool_calls[${list.length}]`;
      fields.push([`${at}.id`, `${field}.call_id`], [`${at}.function.name`, `${field}.name`], [`${at}.function.arguments`, `${field}.arguments`], [`${at}.function`, field], [at, field]);
      list.push({ id: callId, type: 'function', function: { name, arguments: args } });
      calls.add(callId);
      return;
    }
    assistant = undefined;
    if (type === 'function_call_output') {
      const callId = str(it.call_id, `${field}.call_id`);
      if (!calls.has(callId)) throw invalidArgument(`${field}.call_id`, `call_id "${callId}" does not answer a function_call item earlier in input`);
      fields.push([`messages[${k}].content`, `${field}.output`], [`messages[${k}]`, field]);
      out.push({ role: 'tool', tool_call_id: callId, content: typeof it.output === 'string' ? it.output : contentParts(it.output, `${field}.output`, `messages[${k}].content`, fields) });
      return;
    }
    if (type !== 'message') {
      const why = type === 'item_reference' ? 'items are not stored on this server; send the item itself' : 'only message, function_call, function_call_output and reasoning items are accepted (no built-in tools here)';
      throw invalidArgument(`${field}.type`, `unsupported input item type ${JSON.stringify(type)}: ${why}`);
    }
    // Chat's `tool` role is a function_call_output item here.
    if (it.role === 'tool') throw invalidArgument(`${field}.role`, 'unknown role "tool"; expected one of user, system, developer, assistant (a tool result is a function_call_output item)');
    fields.push([`messages[${k}].role`, `${field}.role`], [`messages[${k}].content`, `${field}.content`], [`messages[${k}]`, field]);
    const message: Record<string, unknown> = { role: it.role, content: typeof it.content === 'string' || it.content === undefined || it.content === null ? it.content : contentParts(it.content, `${field}.content`, `messages[${k}].content`, fields) };
    out.push(message);
    // An assistant output message followed by its function calls is one chat turn (content + tool_calls).
    if (it.role === 'assistant') assistant = { message, index: k };
  });
  return out;
}

/** Responses content parts → chat's (`input_text`/`output_text` → text, `input_image` → image_url). */
function contentParts(raw: unknown, field: string, chatField: string, fields: FieldMap): unknown {
  if (!Array.isArray(raw)) throw invalidArgument(field, `${field} must be a string or an array of content parts`);
  return raw.map((p: unknown, j: number) => {
    const pf = `${field}[${j}]`;
    const part = asObject(p, pf);
    fields.push([`${chatField}[${j}].image_url.url`, `${pf}.image_url`], [`${chatField}[${j}]`, pf]);
    if (part.type === 'input_text' || part.type === 'output_text') return { type: 'text', text: part.text };
    if (part.type === 'input_image') {
      if (part.file_id !== undefined && part.file_id !== null) throw invalidArgument(`${pf}.file_id`, 'images by file_id are not available on this server (no Files API); send image_url as a data: URL');
      return { type: 'image_url', image_url: { url: str(part.image_url, `${pf}.image_url`) } };
    }
    throw invalidArgument(`${pf}.type`, `unsupported content part type ${JSON.stringify(part.type)}; expected "input_text", "input_image" or (assistant history) "output_text"`);
  });
}

/** Responses' flat function tools → chat's nested ones; built-in tools are refused by name. */
function functionTools(raw: unknown, fields: FieldMap): { chat: unknown[]; given: Record<string, unknown>[] } | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) throw invalidArgument('tools', 'tools must be an array of {"type": "function", "name", "parameters", …}');
  const given = raw.map((t: unknown, i: number) => {
    const o = asObject(t, `tools[${i}]`);
    if (o.type !== 'function') throw invalidArgument(`tools[${i}].type`, `tool type ${JSON.stringify(o.type)} is not available on this server: only "function" tools (built-in tools such as web_search or file_search are OpenAI-hosted)`);
    fields.push([`tools[${i}].function`, `tools[${i}]`]);
    return o;
  });
  const chat = given.map((o) => ({
    type: 'function',
    function: { name: o.name, ...(o.description !== undefined && o.description !== null && { description: o.description }), ...(o.parameters !== undefined && o.parameters !== null && { parameters: o.parameters }), ...(o.strict !== undefined && { strict: o.strict }) },
  }));
  return { chat, given: given.map((o) => ({ type: 'function', name: o.name, description: o.description ?? null, parameters: o.parameters ?? null, strict: o.strict ?? null })) };
}

function toolChoice(raw: unknown): unknown {
  if (typeof raw === 'string') return raw;
  const o = asObject(raw, 'tool_choice');
  if (o.type !== 'function') throw invalidArgument('tool_choice.type', `tool_choice type ${JSON.stringify(o.type)} is not available on this server: "auto", "none", "required" or {"type": "function", "name"}`);
  return { type: 'function', function: { name: str(o.name, 'tool_choice.name') } };
}

/** `text.format` → chat's `response_format`; `text.verbosity` has no effect on these models, so only its default is accepted. */
function textFormat(raw: unknown): { format?: Record<string, unknown>; echo: Record<string, unknown> } {
  if (raw === undefined || raw === null) return { echo: { format: { type: 'text' } } };
  const t = asObject(raw, 'text');
  if (t.verbosity !== undefined && t.verbosity !== null && t.verbosity !== 'medium') throw invalidArgument('text.verbosity', `text.verbosity ${JSON.stringify(t.verbosity)} is not supported: these models have no verbosity control (only "medium", the default)`);
  if (t.format === undefined || t.format === null) return { echo: { ...t, format: { type: 'text' } } };
  const f = asObject(t.format, 'text.format');
  if (f.type !== 'json_schema') return { format: { type: f.type }, echo: t };
  const jsonSchema = { name: f.name, schema: f.schema, ...(f.strict !== undefined && { strict: f.strict }) };
  return { format: { type: 'json_schema', json_schema: jsonSchema }, echo: t };
}

function parseReasoning(raw: unknown): { effort: string | null; summary: string | null; enableThinking?: boolean } {
  if (raw === undefined || raw === null) return { effort: null, summary: null };
  const r = asObject(raw, 'reasoning');
  const summary = r.summary ?? r.generate_summary;
  if (summary !== undefined && summary !== null && !(typeof summary === 'string' && SUMMARY.has(summary))) throw invalidArgument('reasoning.summary', 'reasoning.summary must be "auto", "concise" or "detailed"');
  if (r.effort === undefined || r.effort === null) return { effort: null, summary: (summary as string | undefined) ?? null };
  // Absent or null = the decoder's default (TESSERA_DECODER_ENABLE_THINKING), as chat without it.
  return { effort: r.effort as string, summary: (summary as string | undefined) ?? null, enableThinking: thinkingForEffort(r.effort, 'reasoning.effort') };
}

function includes(raw: unknown): Set<string> {
  if (raw === undefined || raw === null) return new Set();
  if (!Array.isArray(raw)) throw invalidArgument('include', 'include must be an array of strings');
  raw.forEach((v, i) => {
    if (typeof v !== 'string' || !INCLUDE.has(v)) throw invalidArgument(`include[${i}]`, `include ${JSON.stringify(v)} is not available on this server (supported: ${[...INCLUDE].join(', ')})`);
  });
  return new Set(raw as string[]);
}

/** OpenAI's metadata: at most 16 string values, keys up to 64 and values up to 512 characters. */
function parseMetadata(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  const o = asObject(raw, 'metadata');
  const entries = Object.entries(o);
  if (entries.length > 16) throw invalidArgument('metadata', `metadata has ${entries.length} keys`, 'metadata keys <= 16');
  for (const [k, v] of entries) {
    if (k.length > 64) throw invalidArgument(`metadata.${k}`, `metadata key is ${k.length} characters`, 'key length <= 64');
    if (typeof v !== 'string' || v.length > 512) throw invalidArgument(`metadata.${k}`, 'metadata values are strings of at most 512 characters', 'value length <= 512');
  }
  return o as Record<string, string>;
}

/**
 * A chat validator error with its field (and the message's and limit's mentions of it) in the
 * Responses body's terms: the longest chat path that is the field or a parent of it is replaced.
 */
export function renameField(err: unknown, fields: FieldMap): unknown {
  if (!(err instanceof TesseraError) || typeof err.details.field !== 'string') return err;
  const field = err.details.field;
  let best: [string, string] | undefined;
  for (const pair of fields) {
    const [from] = pair;
    const under = field === from || field.startsWith(`${from}.`) || field.startsWith(`${from}[`);
    if (under && from.length > (best?.[0].length ?? -1)) best = pair;
  }
  if (!best) return err;
  const renamed = best[1] + field.slice(best[0].length);
  const swap = (s: string) => s.split(field).join(renamed);
  const details = { ...err.details, field: renamed, ...(typeof err.details.limit === 'string' && { limit: swap(err.details.limit) }) };
  return new TesseraError(err.code, swap(err.message), details, { cause: err });
}
