/**
 * The decoder's text → OpenAI content and `tool_calls`, incrementally (one instance per response).
 *   no tools / "none"  content only.
 *   "auto"             <tool_call> blocks become calls as each block closes; other text is content.
 *   named function     the constrained output is the arguments: streamed as they are generated.
 *   "required"         the constrained output is a JSON array of calls: emitted when it is complete
 *                      (an array cut by max_tokens is returned as content with finish_reason length).
 */
import { randomBytes } from 'node:crypto';
import { parseRequiredCalls, ToolCallStream } from '@tessera/structured';
import type { ValidTools } from './response-format.js';
import { reasoningFields } from './reasoning-output.js';

export type OutputPiece =
  | { kind: 'content'; text: string }
  /** A whole call (auto, required). */
  | { kind: 'call'; index: number; id: string; name: string; arguments: string }
  /** The start of a streamed call (named): arguments follow as `args` pieces. */
  | { kind: 'call-start'; index: number; id: string; name: string }
  | { kind: 'args'; index: number; text: string };

/** OpenAI-style call ids ("call_" + 24 hex). */
export function toolCallId(): string {
  return `call_${randomBytes(12).toString('hex')}`;
}

export class ToolOutput {
  private readonly mode: 'text' | 'auto' | 'named' | 'required';
  private readonly stream?: ToolCallStream;
  private calls = 0;
  private started = false;
  private buffered = '';

  constructor(private readonly tools: ValidTools | undefined) {
    const choice = tools && tools.tools.length > 0 ? tools.choice : 'none';
    this.mode = choice === 'none' ? 'text' : choice === '' ? 'auto' : choice === 'required' ? 'required' : 'named';
    if (this.mode === 'auto') this.stream = new ToolCallStream(new Set(tools!.tools.map((t) => t.name)));
  }

  /** The response holds tool calls (finish_reason "stop" becomes "tool_calls"). */
  get calledTools(): boolean {
    return this.calls > 0;
  }

  push(text: string): OutputPiece[] {
    if (!text) return [];
    switch (this.mode) {
      case 'text':
        return [{ kind: 'content', text }];
      case 'auto':
        return this.stream!.push(text).flatMap((p) => this.piece(p) ?? []);
      case 'named': {
        const out: OutputPiece[] = [];
        if (!this.started) {
          this.started = true;
          this.calls = 1;
          out.push({ kind: 'call-start', index: 0, id: toolCallId(), name: this.tools!.choice });
        }
        out.push({ kind: 'args', index: 0, text });
        return out;
      }
      case 'required':
        this.buffered += text;
        return [];
    }
  }

  end(): OutputPiece[] {
    if (this.mode === 'auto') return this.stream!.end().flatMap((p) => this.piece(p) ?? []);
    if (this.mode === 'named' && !this.started) {
      // Nothing generated (max_tokens 0 is refused, but EOS can come first): still one call, no arguments.
      this.started = true;
      this.calls = 1;
      return [{ kind: 'call-start', index: 0, id: toolCallId(), name: this.tools!.choice }];
    }
    if (this.mode !== 'required') return [];
    const calls = parseRequiredCalls(this.buffered);
    if (!calls) return this.buffered ? [{ kind: 'content', text: this.buffered }] : [];
    return calls.map((c) => ({ kind: 'call', index: this.calls++, id: toolCallId(), name: c.name, arguments: c.argumentsJson }));
  }

  private piece(p: ReturnType<ToolCallStream['push']>[number]): OutputPiece | undefined {
    if (p.kind === 'content') return p;
    // parallel_tool_calls false: the first call is the turn's only one; later blocks are not calls made.
    if (!this.tools!.parallel && this.calls >= 1) return undefined;
    return { kind: 'call', index: this.calls++, id: toolCallId(), name: p.call.name, arguments: p.call.argumentsJson };
  }
}

/** A piece as the `delta` of a streamed chunk. */
export function deltaOf(p: OutputPiece): Record<string, unknown> {
  switch (p.kind) {
    case 'content':
      return { content: p.text };
    case 'call':
      return { tool_calls: [{ index: p.index, id: p.id, type: 'function', function: { name: p.name, arguments: p.arguments } }] };
    case 'call-start':
      return { tool_calls: [{ index: p.index, id: p.id, type: 'function', function: { name: p.name, arguments: '' } }] };
    case 'args':
      return { tool_calls: [{ index: p.index, function: { arguments: p.text } }] };
  }
}

/** Pieces of a whole response → the message's `content` and `tool_calls`. */
export class MessageAccumulator {
  content = '';
  /** The model's reasoning before the answer (reasoning-output.ts); shown only when there is some. */
  reasoning = '';
  readonly calls: { id: string; type: 'function'; function: { name: string; arguments: string } }[] = [];

  add(pieces: readonly OutputPiece[]): void {
    for (const p of pieces) {
      if (p.kind === 'content') this.content += p.text;
      else if (p.kind === 'call' || p.kind === 'call-start') this.calls[p.index] = { id: p.id, type: 'function', function: { name: p.name, arguments: p.kind === 'call' ? p.arguments : '' } };
      else this.calls[p.index]!.function.arguments += p.text;
    }
  }

  /** OpenAI's message: content is null when the turn only called tools. */
  message(): Record<string, unknown> {
    const reasoning = this.reasoning ? reasoningFields(this.reasoning) : {};
    if (this.calls.length === 0) return { role: 'assistant', content: this.content, ...reasoning };
    return { role: 'assistant', content: this.content.trim() ? this.content : null, ...reasoning, tool_calls: this.calls };
  }
}
