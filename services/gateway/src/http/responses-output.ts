/**
 * The decoder's events → a Response's `output` items, and (streamed) the events that build them, as
 * OpenAI sends them: every item opens with `response.output_item.added` and closes with
 * `response.output_item.done`; text and reasoning parts open with `response.content_part.added` and
 * grow by `response.output_text.delta` / `response.reasoning_text.delta`; function calls grow by
 * `response.function_call_arguments.delta`. The JSON answer is the same builder without the events,
 * so a streamed answer assembles to exactly the JSON one.
 *
 * Tool-call parsing and the reasoning split are chat's (tool-output.ts; the orchestrator splits the
 * reasoning: reasoning-output.ts): reasoning becomes a `reasoning` item, content a `message` item,
 * each call a `function_call` item, in the order the model wrote them. Whitespace between items (the
 * "\n" between a text and a `<tool_call>` block) opens no message of its own; it is kept when text
 * follows, and an answer with nothing else is one message holding it.
 */
import { randomBytes } from 'node:crypto';
import type { FinishReason, TokenLogprob } from '../domain/chat-events.js';
import type { ValidTools } from '../domain/openai/response-format.js';
import { ToolOutput, type OutputPiece } from '../domain/openai/tool-output.js';
import { logprobJson, type DeltaEvent } from './generation-handler.js';

/** A streamed event's type and fields (the writer adds `sequence_number`). */
export type EmitEvent = (type: string, fields: Record<string, unknown>) => void;

type Item = Record<string, unknown> & { id: string; type: 'reasoning' | 'message' | 'function_call' };

/** OpenAI-style item ids: `<prefix>_` + 48 hex digits. */
export function itemId(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
}


export class ResponseOutput {
  readonly items: Item[] = [];
  /** Tokens of deltas that were reasoning only (usage.output_tokens_details.reasoning_tokens). */
  reasoningTokens = 0;
  private readonly tools: ToolOutput;
  private open?: Item;
  private space = '';
  private logprobs: TokenLogprob[] = [];

  constructor(
    tools: ValidTools | undefined,
    private readonly withLogprobs: boolean,
    private readonly emit: EmitEvent = () => {},
  ) {
    this.tools = new ToolOutput(tools);
  }

  /** One delta of the answer: its reasoning first, then its text through the tool-call parser. */
  push(ev: DeltaEvent): void {
    if (ev.reasoning) {
      if (!ev.text) this.reasoningTokens += ev.tokenIds.length;
      this.reasoning(ev.reasoning);
    }
    if (this.withLogprobs && ev.logprobs) this.logprobs.push(...ev.logprobs);
    for (const p of this.tools.push(ev.text)) this.piece(p);
  }

  /** The answer's end: the parser's last pieces, the open item closed (`incomplete` when cut by max_output_tokens). */
  end(finish: FinishReason): void {
    for (const p of this.tools.end()) this.piece(p);
    if (this.items.length === 0) this.openMessage();
    if (this.space && this.open?.type === 'message') this.text('');
    this.close(finish === 'length' ? 'incomplete' : 'completed');
  }

  private piece(p: OutputPiece): void {
    switch (p.kind) {
      case 'content':
        return this.text(p.text);
      case 'call':
      case 'call-start': {
        this.close('completed');
        const item: Item = { id: itemId('fc'), type: 'function_call', status: 'in_progress', arguments: '', call_id: p.id, name: p.name };
        this.openItem(item);
        if (p.kind === 'call') this.args(p.arguments);
        return;
      }
      case 'args':
        return this.args(p.text);
    }
  }

  private reasoning(text: string): void {
    if (this.open?.type !== 'reasoning') {
      this.close('completed');
      this.openItem({ id: itemId('rs'), type: 'reasoning', summary: [], content: [] });
      this.openPart({ type: 'reasoning_text', text: '' });
    }
    const part = this.part();
    part.text += text;
    this.emit('response.reasoning_text.delta', { item_id: this.open!.id, output_index: this.items.length - 1, content_index: 0, delta: text });
  }

  private text(text: string): void {
    if (this.open?.type !== 'message') {
      // Whitespace alone opens no message (see the file comment); it goes out with the text after it.
      if (!(this.space + text).trim()) {
        this.space += text;
        return;
      }
      this.openMessage();
    }
    const delta = this.space + text;
    this.space = '';
    const part = this.part();
    part.text += delta;
    const logprobs = this.logprobs.map(logprobJson);
    this.logprobs = [];
    if (this.withLogprobs) (part.logprobs as unknown[]).push(...logprobs);
    this.emit('response.output_text.delta', { item_id: this.open!.id, output_index: this.items.length - 1, content_index: 0, delta, logprobs });
  }

  private openMessage(): void {
    this.close('completed');
    this.openItem({ id: itemId('msg'), type: 'message', status: 'in_progress', role: 'assistant', content: [] });
    this.openPart({ type: 'output_text', text: '', annotations: [], ...(this.withLogprobs && { logprobs: [] }) });
  }

  private args(text: string): void {
    const item = this.open!;
    item.arguments += text;
    this.emit('response.function_call_arguments.delta', { item_id: item.id, output_index: this.items.length - 1, delta: text });
  }

  private openItem(item: Item): void {
    this.items.push(item);
    this.open = item;
    this.emit('response.output_item.added', { output_index: this.items.length - 1, item });
  }

  private openPart(part: Record<string, unknown>): void {
    (this.open!.content as unknown[]).push({ ...part });
    this.emit('response.content_part.added', { item_id: this.open!.id, output_index: this.items.length - 1, content_index: 0, part });
  }

  private part(): Record<string, unknown> & { text: string } {
    return (this.open!.content as Array<Record<string, unknown> & { text: string }>)[0]!;
  }

  private close(status: 'completed' | 'incomplete'): void {
    const item = this.open;
    if (!item) return;
    this.open = undefined;
    const at = { item_id: item.id, output_index: this.items.length - 1 };
    if (item.type === 'function_call') {
      item.status = 'completed';
      this.emit('response.function_call_arguments.done', { ...at, name: item.name, arguments: item.arguments });
    } else {
      const part = (item.content as Array<Record<string, unknown> & { text: string }>)[0]!;
      if (item.type === 'message') {
        item.status = status;
        this.emit('response.output_text.done', { ...at, content_index: 0, text: part.text, logprobs: part.logprobs ?? [] });
      } else this.emit('response.reasoning_text.done', { ...at, content_index: 0, text: part.text });
      this.emit('response.content_part.done', { ...at, content_index: 0, part });
    }
    this.emit('response.output_item.done', { output_index: at.output_index, item });
  }
}
