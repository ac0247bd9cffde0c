import { describe, expect, it } from 'vitest';
import { deltaOf, MessageAccumulator, ToolOutput, type OutputPiece } from './tool-output.js';
import type { ValidTools } from './response-format.js';

const tools = (choice: string, parallel = true): ValidTools => ({
  tools: [
    { name: 'get_weather', description: '', parametersJson: '{"type":"object","properties":{"city":{"type":"string"}}}' },
    { name: 'get_time', description: '', parametersJson: '' },
  ],
  choice,
  parallel,
});

/** Feeds the text in small deltas, as the decoder streams it. */
function run(t: ValidTools | undefined, text: string, size = 3): { pieces: OutputPiece[]; out: ToolOutput; msg: MessageAccumulator } {
  const out = new ToolOutput(t);
  const msg = new MessageAccumulator();
  const pieces: OutputPiece[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(...out.push(text.slice(i, i + size)));
  pieces.push(...out.end());
  msg.add(pieces);
  return { pieces, out, msg };
}

describe('ToolOutput → OpenAI message and stream deltas', () => {
  it('without tools (or tool_choice none) everything is content, even a <tool_call> lookalike', () => {
    for (const t of [undefined, tools('none')]) {
      const { msg, out } = run(t, 'a <tool_call>{"name":"get_time","arguments":{}}</tool_call>');
      expect(msg.message()).toEqual({ role: 'assistant', content: 'a <tool_call>{"name":"get_time","arguments":{}}</tool_call>' });
      expect(out.calledTools).toBe(false);
    }
  });

  it('auto: content before the call stays content; the call gets an id and JSON arguments', () => {
    const { msg, out, pieces } = run(tools(''), 'Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>');
    expect(out.calledTools).toBe(true);
    const m = msg.message() as { content: string; tool_calls: { id: string; type: string; function: { name: string; arguments: string } }[] };
    expect(m.content).toBe('Checking.\n');
    expect(m.tool_calls).toHaveLength(1);
    expect(m.tool_calls[0]).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } });
    expect(m.tool_calls[0]!.id).toMatch(/^call_[0-9a-f]{24}$/);
    const call = pieces.find((p) => p.kind === 'call')!;
    expect(deltaOf(call)).toEqual({ tool_calls: [{ index: 0, id: m.tool_calls[0]!.id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] });
  });

  it('named: arguments stream as they are generated, under one call id; content is null', () => {
    const { pieces, msg, out } = run(tools('get_weather'), '{"city":"Paris"}', 4);
    expect(out.calledTools).toBe(true);
    expect(pieces[0]!.kind).toBe('call-start');
    expect(deltaOf(pieces[1]!)).toEqual({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] });
    expect(msg.message()).toMatchObject({ content: null, tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] });
  });

  it('parallel_tool_calls false: only the first call of an auto turn is a call', () => {
    const text = '<tool_call>{"name":"get_time","arguments":{}}</tool_call>\n<tool_call>{"name":"get_weather","arguments":{"city":"Rome"}}</tool_call>';
    expect((run(tools(''), text).msg.message() as { tool_calls: unknown[] }).tool_calls).toHaveLength(2);
    const one = run(tools('', false), text).msg.message() as { tool_calls: { function: { name: string } }[] };
    expect(one.tool_calls.map((c) => c.function.name)).toEqual(['get_time']);
  });

  it('required: the array becomes calls; an array cut short stays content', () => {
    const { msg } = run(tools('required'), '[{"name":"get_time","arguments":{}},{"name":"get_weather","arguments":{"city":"Rome"}}]');
    const m = msg.message() as { tool_calls: { function: { name: string; arguments: string } }[] };
    expect(m.tool_calls.map((c) => c.function)).toEqual([
      { name: 'get_time', arguments: '{}' },
      { name: 'get_weather', arguments: '{"city":"Rome"}' },
    ]);
    const cut = run(tools('required'), '[{"name":"get_time","argu');
    expect(cut.out.calledTools).toBe(false);
    expect(cut.msg.message()).toEqual({ role: 'assistant', content: '[{"name":"get_time","argu' });
  });
});
