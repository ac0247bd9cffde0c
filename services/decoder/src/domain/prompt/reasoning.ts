/**
 * Does the output of this prompt open with reasoning? vLLM decides it from the prompt ids
 * (ReasoningParser.is_reasoning_end on the prompt, then the qwen3 parser's `enable_thinking`), and so
 * do we, for the families whose templates think (4.5, 4.6):
 *  - the prompt's last think tag is `</think>` (thinking off: the template closed an empty block) → no;
 *  - it is `<think>` (a thinking template opened the block, Qwen3.5 / -Thinking checkpoints) → yes;
 *  - neither (Qwen3-style templates, where the model writes `<think>` itself) → yes when thinking is on.
 * Only the generation prompt (after the last `<|im_start|>`) is read, so a think block kept in an
 * earlier assistant turn does not count, and only tags the template wrote: user text that spells
 * `<think>` is encoded as plain text.
 */
import type { PromptTokenizer } from './prompt-tokenizer.js';
import type { ChatEnding } from './prompt-types.js';

export function opensReasoning(ids: readonly number[], tok: Pick<PromptTokenizer, 'addedTokenId'>, enableThinking: boolean, ending: ChatEnding = 'open-turn'): boolean {
  const open = tok.addedTokenId('<think>');
  const close = tok.addedTokenId('</think>');
  const turn = tok.addedTokenId('<|im_start|>');
  for (let i = ids.length - 1; i >= 0 && ids[i] !== turn; i--) {
    if (ids[i] === close) return false;
    if (ids[i] === open) return true;
  }
  // Without a generation prompt the output goes on from the last turn's text: reasoning only inside an open <think>.
  return ending === 'open-turn' && enableThinking;
}

/** The chat ending as the chat template's options (HF add_generation_prompt / continue_final_message). */
export function templateEnding(ending: ChatEnding = 'open-turn'): { addGenerationPrompt: boolean; continueFinalMessage: boolean } {
  return { addGenerationPrompt: ending === 'open-turn', continueFinalMessage: ending === 'continue-final' };
}
