/**
 * A checkpoint's own `chat_template` (tokenizer_config.json), rendered with @huggingface/jinja — the
 * Jinja implementation transformers.js uses — with the variables HF passes besides `messages`: the
 * special-token spellings from tokenizer_config (`bos_token`, `eos_token`, …), `add_generation_prompt`
 * and, when set, `enable_thinking` (Qwen3.5-style templates read it). Shared by the model library's
 * Tokenizer and the decoder's prompt assembly so both render one template the same way.
 */
import { Template } from '@huggingface/jinja';
import { ErrorCode, TesseraError } from '@tessera/errors';

/** Content is a string, or (4.6-style templates) a list of text / image items. */
export type ChatContentItem = { type: 'text'; text: string } | { type: 'image' } | { type: 'image_url' } | { type: 'video' };
export interface ChatMessage {
  role: string;
  content: string | ChatContentItem[];
}

export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  /** Passed to the template as `enable_thinking` when set. */
  enableThinking?: boolean;
  /** Extra template variables (`chat_template_kwargs`). */
  extra?: Record<string, unknown>;
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
    this.compiled ??= new Template(this.source);
    const vars: Record<string, unknown> = { ...this.vars, ...(opts.extra ?? {}), messages, add_generation_prompt: opts.addGenerationPrompt ?? true };
    if (opts.enableThinking !== undefined) vars.enable_thinking = opts.enableThinking;
    return this.compiled.render(vars);
  }
}
