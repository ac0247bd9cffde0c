import { describe, expect, it } from 'vitest';
import { answerChoiceId, ChoiceTally, promptResponseId } from './choices.js';

const final = (choice: number, prompt: number, completion: number, cached?: number) => ({
  kind: 'final' as const,
  choice,
  finishReason: 'stop' as const,
  usage: { promptTokens: prompt, visualTokens: 0, completionTokens: completion, ...(cached !== undefined && { cachedTokens: cached }) },
  timings: {},
  sources: [],
});

describe('choices of one answer', () => {
  it('usage: the prompt once per prompt (a batch sums its prompts), completions of every choice', () => {
    const one = new ChoiceTally(2);
    [final(1, 10, 3, 4), final(0, 10, 2, 0)].forEach((f) => one.end(f));
    expect(one.usage()).toEqual({ promptTokens: 10, visualTokens: 0, completionTokens: 5, cachedTokens: 0 });
    // Two prompts of 10 and 7 tokens, two choices each (choice p·2 + i).
    const batch = new ChoiceTally(4, 2);
    [final(0, 10, 1), final(2, 7, 4), final(1, 10, 2), final(3, 7, 8)].forEach((f) => batch.end(f));
    expect(batch.usage()).toEqual({ promptTokens: 17, visualTokens: 0, completionTokens: 15 });
  });

  it('ids: prompt p of a batch answers under <id>-p<p> (prompt 0 the id itself), its choice i under that id -i', () => {
    expect([promptResponseId('cmpl-x', 0), promptResponseId('cmpl-x', 3)]).toEqual(['cmpl-x', 'cmpl-x-p3']);
    expect([0, 1, 2, 3, 4, 5].map((i) => answerChoiceId('cmpl-x', i, 2))).toEqual(['cmpl-x', 'cmpl-x-1', 'cmpl-x-p1', 'cmpl-x-p1-1', 'cmpl-x-p2', 'cmpl-x-p2-1']);
    expect([0, 1, 2].map((i) => answerChoiceId('cmpl-x', i, 3))).toEqual(['cmpl-x', 'cmpl-x-1', 'cmpl-x-2']);
  });
});
