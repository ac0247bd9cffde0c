import { describe, expect, it } from 'vitest';
import { opensReasoning } from './reasoning.js';

// Stand-in ids: 1 = <|im_start|>, 7 = <think>, 8 = </think>, others text.
const tok = { addedTokenId: (s: string) => ({ '<|im_start|>': 1, '<think>': 7, '</think>': 8 })[s] };

describe('opensReasoning (vLLM: prompt_is_reasoning_end, then the parser\'s enable_thinking)', () => {
  it('reads the generation prompt only', () => {
    expect(opensReasoning([1, 5, 1, 6, 7, 3], tok, false)).toBe(true); // the template opened <think> (Qwen3.5 / thinking checkpoints)
    expect(opensReasoning([1, 5, 1, 6, 7, 3, 8, 3], tok, true)).toBe(false); // thinking off: an empty block closed
    expect(opensReasoning([1, 5, 1, 6], tok, true)).toBe(true); // Qwen3-style: the model writes <think> itself
    expect(opensReasoning([1, 5, 1, 6], tok, false)).toBe(false);
    expect(opensReasoning([1, 7, 4, 8, 3, 1, 6], tok, true)).toBe(true); // a think block of an earlier turn does not count
  });

  it('a tokenizer without think tags (2.6) follows the flag', () => {
    expect(opensReasoning([1, 5, 1, 6], { addedTokenId: () => undefined }, false)).toBe(false);
  });
});
