/**
 * Tool calls in the Hermes / Qwen2.5 format, shared by the decoder (renders tools into the ChatML
 * prompt, builds the constraint of a forced call) and the gateway (counts the prompt, parses the
 * output into OpenAI `tool_calls`). One module so the text the model is shown and the text the
 * parser expects cannot drift apart.
 *
 * Prompt (what Qwen2.5's template and vLLM's tool_chat_template_hermes.jinja render; MiniCPM-V 2.6's
 * own template has no tool section, so this is the template Tessera serves it with):
 *   system turn:    {system text}\n\n# Tools\n\n…<tools>\n{tool json}…\n</tools>\n\n…format…
 *   assistant turn: {content}\n<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>   (one per call)
 *   tool results:   consecutive `tool` messages → one user turn of <tool_response>\n…\n</tool_response>
 *
 * Output:
 *   tool_choice auto     free text; each <tool_call>{json}</tool_call> (or Qwen3-Coder's
 *                        <tool_call><function=f><parameter=p>v</parameter></function></tool_call>,
 *                        what MiniCPM-V 4.6 / Qwen3.5 emit) becomes a call, the rest stays content
 *                        (vLLM's hermes and qwen3_coder parsers).
 *   tool_choice named    constrained to the function's parameters schema: the output IS the arguments.
 *   tool_choice required constrained to [{"name": …, "arguments": {…}}, …] (1..MAX_FORCED_CALLS), as vLLM.
 */
import { invalidArgument } from '@tessera/errors';

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments as JSON text; '' = no arguments. */
  parametersJson: string;
}

export interface ParsedToolCall {
  name: string;
  /** The arguments as JSON text (what OpenAI `function.arguments` carries). */
  argumentsJson: string;
}

/** Calls one forced (`required`) generation may hold: bounds the array so a weak model cannot loop. */
export const MAX_FORCED_CALLS = 8;
export const TOOL_CALL_OPEN = '<tool_call>';
export const TOOL_CALL_CLOSE = '</tool_call>';

/** A function declared without parameters takes none (a forced call writes `{}`). */
const EMPTY_PARAMS = { type: 'object', properties: {}, additionalProperties: false };

function parametersOf(t: ToolSpec): Record<string, unknown> {
  if (!t.parametersJson) return EMPTY_PARAMS;
  let v: unknown;
  try {
    v = JSON.parse(t.parametersJson);
  } catch {
    throw invalidArgument(`tools[${t.name}].parameters_json`, `the parameters of tool "${t.name}" are not valid JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalidArgument(`tools[${t.name}].parameters_json`, `the parameters of tool "${t.name}" must be a JSON Schema object`);
  return v as Record<string, unknown>;
}

/** The tools part of the system turn (appended after the system text with one blank line). */
export function hermesToolsSection(tools: readonly ToolSpec[]): string {
  const lines = tools.map((t) => JSON.stringify({ type: 'function', function: { name: t.name, description: t.description, parameters: parametersOf(t) } }));
  return (
    '# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
    'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
    lines.join('\n') +
    '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
    '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
  );
}

/** An assistant turn's calls as the model would have written them. */
export function hermesToolCallsText(calls: readonly ParsedToolCall[]): string {
  return calls.map((c) => `${TOOL_CALL_OPEN}\n{"name": ${JSON.stringify(c.name)}, "arguments": ${compactArguments(c.argumentsJson)}}\n${TOOL_CALL_CLOSE}`).join('\n');
}

/** Arguments arrive as JSON text (OpenAI); valid JSON is re-serialised compactly, anything else is quoted. */
function compactArguments(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json));
  } catch {
    return JSON.stringify(json);
  }
}

export function hermesToolResponse(content: string): string {
  return `<tool_response>\n${content}\n</tool_response>`;
}

/** A chat message as both edges of the template see it (parts are opaque apart from text). */
export interface ToolTurnMessage<P> {
  role: 'system' | 'user' | 'assistant' | 'tool';
  parts: P[];
  toolCalls?: readonly ParsedToolCall[];
}

type TextPart = { kind: 'text'; text: string };

/**
 * Messages with tools, tool calls and tool results → plain system/user/assistant turns in the
 * Hermes layout (parts of a turn are joined by "\n" by the ChatML assembler). `withTools` = the tools
 * section goes into the system turn (tool_choice other than "none").
 */
export function renderToolTurns<P extends { kind: string }>(
  messages: readonly ToolTurnMessage<P>[],
  tools: readonly ToolSpec[],
  withTools: boolean,
  defaultSystem: string,
): { role: 'system' | 'user' | 'assistant'; parts: (P | TextPart)[] }[] {
  const out: { role: 'system' | 'user' | 'assistant'; parts: (P | TextPart)[] }[] = [];
  let previousWasTool = false;
  for (const m of messages) {
    if (m.role === 'tool') {
      const text = m.parts.map((p) => (p.kind === 'text' ? (p as unknown as TextPart).text : '')).join('\n');
      const part: TextPart = { kind: 'text', text: hermesToolResponse(text) };
      // Consecutive results share one user turn, as Qwen's template groups them.
      if (previousWasTool) out[out.length - 1]!.parts.push(part);
      else out.push({ role: 'user', parts: [part] });
      previousWasTool = true;
      continue;
    }
    previousWasTool = false;
    const parts: (P | TextPart)[] = [...m.parts];
    if (m.role === 'assistant' && m.toolCalls && m.toolCalls.length > 0) parts.push({ kind: 'text', text: hermesToolCallsText(m.toolCalls) });
    out.push({ role: m.role, parts });
  }
  if (withTools && tools.length > 0) {
    const section: TextPart = { kind: 'text', text: `\n${hermesToolsSection(tools)}` };
    if (out[0]?.role === 'system') out[0].parts.push(section);
    else out.unshift({ role: 'system', parts: [{ kind: 'text', text: defaultSystem }, section] });
  }
  return out;
}

/**
 * The schema a forced choice constrains the output to: the named function's parameters, or for
 * "required" an array of {name, arguments} over every tool. Undefined for "auto" and "none".
 * `$defs`/`definitions` of each tool are hoisted under a per-tool prefix so `$ref`s still resolve
 * inside the wrapper.
 */
export function forcedToolSchema(tools: readonly ToolSpec[], choice: string, maxCalls: number = MAX_FORCED_CALLS): unknown | undefined {
  if (choice === '' || choice === 'auto' || choice === 'none') return undefined;
  if (choice !== 'required') {
    const t = tools.find((x) => x.name === choice);
    if (!t) throw invalidArgument('tool_choice', `tool_choice names "${choice}", which is not in tools`);
    return parametersOf(t);
  }
  const defs: Record<string, unknown> = {};
  const options = tools.map((t, i) => {
    const prefix = `t${i}_`;
    const p = hoist(parametersOf(t), prefix, defs, `tools[${i}].function.parameters`);
    return { type: 'object', properties: { name: { const: t.name }, arguments: p }, required: ['name', 'arguments'], additionalProperties: false };
  });
  return { type: 'array', items: { anyOf: options }, minItems: 1, maxItems: Math.max(1, Math.min(maxCalls, MAX_FORCED_CALLS)), ...(Object.keys(defs).length > 0 && { $defs: defs }) };
}

function hoist(schema: Record<string, unknown>, prefix: string, defs: Record<string, unknown>, field: string): Record<string, unknown> {
  const own = { ...((schema.$defs as Record<string, unknown>) ?? {}), ...((schema.definitions as Record<string, unknown>) ?? {}) };
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v === null || typeof v !== 'object') return v;
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === '$ref' && typeof x === 'string') {
        const m = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(x);
        if (!m) throw invalidArgument(`${field}.$ref`, `$ref ${JSON.stringify(x)} cannot be used with tool_choice "required" (only #/$defs/… and #/definitions/…)`);
        o[k] = `#/$defs/${prefix}${m[1]}`;
      } else o[k] = rewrite(x);
    }
    return o;
  };
  for (const [k, v] of Object.entries(own)) defs[`${prefix}${k}`] = rewrite(v);
  const body = { ...schema };
  delete body.$defs;
  delete body.definitions;
  return rewrite(body) as Record<string, unknown>;
}

/** Output of a forced "required" generation → its calls, or undefined when it is not a complete array. */
export function parseRequiredCalls(text: string): ParsedToolCall[] | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  const calls: ParsedToolCall[] = [];
  for (const c of v) {
    if (c === null || typeof c !== 'object' || typeof (c as { name?: unknown }).name !== 'string') return undefined;
    calls.push({ name: (c as { name: string }).name, argumentsJson: JSON.stringify((c as { arguments?: unknown }).arguments ?? {}) });
  }
  return calls;
}

/** One `<tool_call>` body (Hermes JSON or Qwen3-Coder XML) → a call, or undefined when it is neither. */
export function parseToolCallBody(body: string, known: ReadonlySet<string>): ParsedToolCall | undefined {
  const s = body.trim();
  if (s.startsWith('{')) {
    try {
      const o = JSON.parse(s) as Record<string, unknown>;
      const name = o.name;
      const args = o.arguments ?? o.parameters ?? {};
      if (typeof name !== 'string' || !known.has(name)) return undefined;
      return { name, argumentsJson: typeof args === 'string' ? args : JSON.stringify(args) };
    } catch {
      return undefined;
    }
  }
  const fn = /^<function=([^>\n]+)>([\s\S]*?)(?:<\/function>\s*)?$/.exec(s);
  if (!fn || !known.has(fn[1]!.trim())) return undefined;
  const args: Record<string, unknown> = {};
  for (const m of fn[2]!.matchAll(/<parameter=([^>\n]+)>\n?([\s\S]*?)\n?<\/parameter>/g)) {
    const raw = m[2]!;
    // Qwen3-Coder writes every value as text; JSON-looking values (numbers, objects, true) are decoded.
    try {
      args[m[1]!.trim()] = JSON.parse(raw);
    } catch {
      args[m[1]!.trim()] = raw;
    }
  }
  return { name: fn[1]!.trim(), argumentsJson: JSON.stringify(args) };
}

export type ToolStreamPiece = { kind: 'content'; text: string } | { kind: 'call'; call: ParsedToolCall };

/**
 * Incremental parser for tool_choice "auto": text deltas in, content and complete calls out. Text
 * that could still become `<tool_call>` is held back (at most 10 characters); a block that does not
 * parse as a call of a known tool is passed through as content, never dropped. After the first call,
 * whitespace between calls is not content.
 */
export class ToolCallStream {
  private buf = '';
  private inCall = false;
  private calls = 0;

  constructor(private readonly known: ReadonlySet<string>) {}

  get sawCall(): boolean {
    return this.calls > 0;
  }

  push(text: string): ToolStreamPiece[] {
    this.buf += text;
    const out: ToolStreamPiece[] = [];
    for (;;) {
      if (!this.inCall) {
        const i = this.buf.indexOf(TOOL_CALL_OPEN);
        if (i < 0) {
          const keep = heldPrefix(this.buf, TOOL_CALL_OPEN);
          this.content(out, this.buf.slice(0, this.buf.length - keep));
          this.buf = this.buf.slice(this.buf.length - keep);
          return out;
        }
        this.content(out, this.buf.slice(0, i));
        this.buf = this.buf.slice(i + TOOL_CALL_OPEN.length);
        this.inCall = true;
      }
      const j = this.buf.indexOf(TOOL_CALL_CLOSE);
      if (j < 0) return out;
      this.finishCall(out, this.buf.slice(0, j), true);
      this.buf = this.buf.slice(j + TOOL_CALL_CLOSE.length);
      this.inCall = false;
    }
  }

  /** End of output: an unterminated block is parsed as it stands (models often end on EOS instead of the tag). */
  end(): ToolStreamPiece[] {
    const out: ToolStreamPiece[] = [];
    if (this.inCall) this.finishCall(out, this.buf, false);
    else this.content(out, this.buf);
    this.buf = '';
    this.inCall = false;
    return out;
  }

  private finishCall(out: ToolStreamPiece[], body: string, closed: boolean): void {
    const call = parseToolCallBody(body, this.known);
    if (call) {
      this.calls++;
      out.push({ kind: 'call', call });
    } else this.content(out, TOOL_CALL_OPEN + body + (closed ? TOOL_CALL_CLOSE : ''), true);
  }

  private content(out: ToolStreamPiece[], text: string, force = false): void {
    if (!text || (!force && this.calls > 0 && text.trim() === '')) return;
    out.push({ kind: 'content', text });
  }
}

/** Length of the longest suffix of `s` that is a proper prefix of `tag`. */
function heldPrefix(s: string, tag: string): number {
  for (let n = Math.min(s.length, tag.length - 1); n > 0; n--) if (tag.startsWith(s.slice(s.length - n))) return n;
  return 0;
}
