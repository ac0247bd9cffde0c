/**
 * A checkpoint's own `chat_template` (tokenizer_config.json), rendered with @huggingface/jinja — the
 * Jinja implementation transformers.js uses — with the variables HF passes besides `messages`: the
 * special-token spellings from tokenizer_config (`bos_token`, `eos_token`, …), `add_generation_prompt`
 * and, when set, `enable_thinking` (Qwen3.5-style templates read it). Shared by the model library's
 * Tokenizer and the decoder's prompt assembly so both render one template the same way. Printed values
 * are spelled as Python's Jinja2 spells them (`True`, `None`: python-jinja.ts).
 */
import { Template } from '@huggingface/jinja';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { PY_STR, pyStrGlobal, pythonizeTemplate } from './python-jinja.js';

/** Content is a string, or (4.6-style templates) a list of text / image items. */
export type ChatContentItem = { type: 'text'; text: string } | { type: 'image' } | { type: 'image_url' } | { type: 'video' };
/**
 * A message as HF chat templates read it. Tool calls follow the transformers convention: an assistant
 * message's `tool_calls` carry `function.arguments` as an object (vLLM parses the OpenAI JSON string
 * before rendering, because Qwen-style templates iterate `arguments|items`); a `tool` message's content
 * is the result.
 */
export interface ChatMessage {
  role: string;
  content: string | ChatContentItem[];
  tool_calls?: ChatToolCall[];
}

export interface ChatToolCall {
  type: 'function';
  function: { name: string; arguments: Record<string, unknown> };
}

/** A tool as HF templates read `tools` (the OpenAI shape): `{type: 'function', function: {name, description, parameters}}`. */
export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  /** Passed to the template as `enable_thinking` when set. */
  enableThinking?: boolean;
  /** Extra template variables (`chat_template_kwargs`). */
  extra?: Record<string, unknown>;
  /** `tools`, passed only when non-empty (templates test `if tools`). */
  tools?: ChatTool[];
}

const tokStr = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : undefined;

export class ChatTemplate {
  /** The template source, undefined when the tokenizer ships none. */
  readonly source: string | undefined;
  private readonly vars: Record<string, unknown>;
  private compiled: Template | undefined;

  constructor(tokenizerConfig: Record<string, unknown>) {
    this.source = typeof tokenizerConfig.chat_template === 'string' ? tokenizerConfig.chat_template : undefined;
    const c = tokenizerConfig;
    this.vars = { bos_token: tokStr(c.bos_token) ?? '', eos_token: tokStr(c.eos_token) ?? '', pad_token: tokStr(c.pad_token) ?? '', unk_token: tokStr(c.unk_token) ?? '' };
  }

  /** Renders the messages; a tokenizer without a template is refused (no guessing). */
  render(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    if (this.source === undefined) {
      throw new TesseraError(ErrorCode.FAILED_PRECONDITION, 'tokenizer_config.json: chat_template is missing; the model cannot format chat messages', { field: 'chat_template', file: 'tokenizer_config.json' });
    }
    this.compiled ??= pythonizeTemplate(new Template(this.source));
    const vars: Record<string, unknown> = { ...this.vars, ...(opts.extra ?? {}), messages, add_generation_prompt: opts.addGenerationPrompt ?? true, [PY_STR]: pyStrGlobal };
    if (opts.enableThinking !== undefined) vars.enable_thinking = opts.enableThinking;
    if (opts.tools && opts.tools.length > 0) vars.tools = opts.tools;
    return this.compiled.render(vars);
  }
}
