import { describe, expect, it } from 'vitest';
import { ReasoningOutput } from './reasoning-output.js';

/** The split of `text` fed in pieces of `size` characters (Infinity = one piece), concatenated. */
function split(text: string, on: boolean, size = Infinity): { reasoning: string; content: string } {
  const out = new ReasoningOutput(on);
  let reasoning = '';
  let content = '';
  for (let i = 0; i < text.length; i += Math.min(size, text.length)) {
    const p = out.push(text.slice(i, i + size));
    reasoning += p.reasoning;
    content += p.content;
  }
  const e = out.end();
  return { reasoning: reasoning + e.reasoning, content: content + e.content };
}

const CALL = '<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>';

describe('ReasoningOutput (vLLM qwen3 reasoning parser)', () => {
  const cases: Array<[string, string, boolean, { reasoning: string; content: string }]> = [
    ['the prompt opened <think>: reasoning up to </think>, the answer after it unchanged', 'Two and two.\n</think>\n\nIt is 4.', true, { reasoning: 'Two and two.\n', content: '\n\nIt is 4.' }],
    ['a <think> the model writes itself is dropped', '<think>\nHmm.\n</think>\n\n4', true, { reasoning: '\nHmm.\n', content: '\n\n4' }],
    ['no </think> (cut by max_tokens): all reasoning, a partial tag included', 'still thinking </thi', true, { reasoning: 'still thinking </thi', content: '' }],
    ['off: everything is answer, tags included', '<think>x</think>y', false, { reasoning: '', content: '<think>x</think>y' }],
    ['<tool_call> + <function ends the reasoning; the call is answer', `I should look it up.\n${CALL}`, true, { reasoning: 'I should look it up.\n', content: CALL }],
    ['a <tool_call> mentioned in the reasoning is not a call', 'the <tool_call> tag wraps calls</think>ok', true, { reasoning: 'the <tool_call> tag wraps calls', content: 'ok' }],
    ['after </think> a later <think> is answer text', 'a</think>b<think>c', true, { reasoning: 'a', content: 'b<think>c' }],
  ];
  it.each(cases)('%s', (_name, text, on, want) => {
    // Whole, and streamed one character / three characters at a time: the same split.
    expect(split(text, on)).toEqual(want);
    expect(split(text, on, 1)).toEqual(want);
    expect(split(text, on, 3)).toEqual(want);
  });

  it('holds back only a possible tag: plain reasoning streams as it comes', () => {
    const out = new ReasoningOutput(true);
    expect(out.push('Let me')).toEqual({ reasoning: 'Let me', content: '' });
    expect(out.push(' see </th')).toEqual({ reasoning: ' see ', content: '' });
    expect(out.push('ink>\n\nDone')).toEqual({ reasoning: '', content: '\n\nDone' });
    expect(out.push(' </think>')).toEqual({ reasoning: '', content: ' </think>' });
  });
});
