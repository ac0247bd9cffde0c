/**
 * The decoder's raw text → the model's reasoning and its answer, incrementally (one instance per
 * response), as vLLM's `qwen3` reasoning parser splits MiniCPM-V 4.5 / 4.6 (Qwen3 / Qwen3.5) output
 * (vllm/reasoning/qwen3_reasoning_parser.py; docs/decisions.md "Reasoning output"):
 *  - off (the decoder's first chunk says the output does not open with reasoning): all answer;
 *  - on: everything up to `</think>` is reasoning, everything after it the answer, unchanged (the
 *    "\n\n" the model writes after `</think>` stays, as in vLLM); a `<think>` the model writes itself
 *    (Qwen3-style templates) is dropped; no `</think>` at all (cut by max_tokens) = all reasoning;
 *  - `<tool_call>` followed by `<function` ends the reasoning too (Qwen3.5 may call a tool from inside
 *    its thinking without closing it): the call goes to the answer, where the tool parser reads it.
 * A tag split across chunks is held back until it is complete or cannot be one any more: at most
 * `<tool_call>` + whitespace + `<function` (~20 characters), so streaming stays token by token.
 */
/**
 * The reasoning fields of a message or a streamed delta: `reasoning_content` (DeepSeek's name, read by
 * LiteLLM, LangChain, Open WebUI and vLLM before 0.11) and `reasoning` (vLLM's name since the
 * reasoning_content → reasoning rename), the same text under both so either kind of client finds it.
 */
export function reasoningFields(text: string): { reasoning_content: string; reasoning: string } {
  return { reasoning_content: text, reasoning: text };
}

const END = '</think>';
const START = '<think>';
const CALL = '<tool_call>';
const FUNCTION = '<function';

export interface ReasoningPiece {
  reasoning: string;
  content: string;
}

type Found = { kind: 'end' | 'start'; at: number; length: number } | { kind: 'call' | 'hold'; at: number };

export class ReasoningOutput {
  private held = '';

  constructor(private inReasoning: boolean) {}

  push(text: string): ReasoningPiece {
    if (!this.inReasoning) return { reasoning: '', content: text };
    let s = this.held + text;
    this.held = '';
    let reasoning = '';
    for (;;) {
      const f = scan(s);
      if (!f) return { reasoning: reasoning + s, content: '' };
      reasoning += s.slice(0, f.at);
      switch (f.kind) {
        case 'start':
          s = s.slice(f.at + f.length);
          continue;
        case 'end':
          this.inReasoning = false;
          return { reasoning, content: s.slice(f.at + f.length) };
        case 'call':
          this.inReasoning = false;
          return { reasoning, content: s.slice(f.at) };
        case 'hold':
          this.held = s.slice(f.at);
          return { reasoning, content: '' };
      }
    }
  }

  /** The end of the output: a held-back partial tag was reasoning text after all. */
  end(): ReasoningPiece {
    const reasoning = this.held;
    this.held = '';
    return { reasoning, content: '' };
  }
}

/** The first tag (or possible start of one at the end of `s`) that changes the split. */
function scan(s: string): Found | undefined {
  for (let at = s.indexOf('<'); at >= 0; at = s.indexOf('<', at + 1)) {
    const rest = s.slice(at);
    if (rest.startsWith(END)) return { kind: 'end', at, length: END.length };
    if (rest.startsWith(START)) return { kind: 'start', at, length: START.length };
    if (rest.startsWith(CALL)) {
      const next = rest.slice(CALL.length).trimStart();
      if (next.startsWith(FUNCTION)) return { kind: 'call', at };
      if (FUNCTION.startsWith(next)) return { kind: 'hold', at };
      continue; // `<tool_call>` mentioned in the reasoning, not a call
    }
    if (END.startsWith(rest) || START.startsWith(rest) || CALL.startsWith(rest)) return { kind: 'hold', at };
  }
  return undefined;
}
