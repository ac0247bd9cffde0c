import { describe, expect, it } from 'vitest';
import { compileSchema } from './schema.js';
import { canEnd, startThreads, step } from './matcher.js';
import { forcedToolSchema, hermesToolsSection, parseRequiredCalls, parseToolCallBody, renderToolTurns, ToolCallStream, type ToolSpec } from './tool-calls.js';

const weather: ToolSpec = { name: 'get_weather', description: 'Weather for a city', parametersJson: JSON.stringify({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }) };
const time: ToolSpec = { name: 'get_time', description: '', parametersJson: '' };
const known = new Set(['get_weather', 'get_time']);

/** Feeds a whole document through a compiled schema: accepted and complete. */
function accepts(schema: unknown, doc: string): boolean {
  let threads = startThreads(compileSchema(schema, { field: 's' }));
  for (const b of Buffer.from(doc)) {
    threads = step(threads, b);
    if (threads.length === 0) return false;
  }
  return canEnd(threads);
}

describe('ToolCallStream (tool_choice auto)', () => {
  it('splits content and a Hermes call fed one character at a time; the tag prefix is held back', () => {
    const s = new ToolCallStream(known);
    const text = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
    const pieces = [...text].flatMap((ch) => s.push(ch)).concat(s.end());
    const content = pieces.filter((p) => p.kind === 'content').map((p) => (p as { text: string }).text).join('');
    expect(content).toBe('Let me check.\n');
    expect(pieces.filter((p) => p.kind === 'call')).toEqual([{ kind: 'call', call: { name: 'get_weather', argumentsJson: '{"city":"Paris"}' } }]);
    expect(s.sawCall).toBe(true);
    // "<tool" alone is held (it may become a call), then released as content when it does not.
    const t = new ToolCallStream(known);
    expect(t.push('a <tool')).toEqual([{ kind: 'content', text: 'a ' }]);
    expect(t.push('box>')).toEqual([{ kind: 'content', text: '<toolbox>' }]);
  });

  it('parses two calls, Qwen3-Coder XML too, and an unterminated last block at end of output', () => {
    const s = new ToolCallStream(known);
    const out = [
      ...s.push('<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>\n'),
      ...s.push('<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>\n<tool_call>{"name": "get_time", "arguments": {"tz": "UTC"}}'),
      ...s.end(),
    ];
    expect(out).toEqual([
      { kind: 'call', call: { name: 'get_time', argumentsJson: '{}' } },
      { kind: 'call', call: { name: 'get_weather', argumentsJson: '{"city":"Oslo","days":3}' } },
      { kind: 'call', call: { name: 'get_time', argumentsJson: '{"tz":"UTC"}' } },
    ]);
  });

  it('passes a block that is not a call of a known tool through as content, never dropped', () => {
    const s = new ToolCallStream(known);
    const out = [...s.push('<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call> and <tool_call>not json</tool_call>'), ...s.end()];
    expect(out.map((p) => (p.kind === 'content' ? p.text : '?')).join('')).toBe('<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call> and <tool_call>not json</tool_call>');
    expect(s.sawCall).toBe(false);
  });

  it('accepts "parameters" and string arguments as vLLM\'s hermes parser does', () => {
    expect(parseToolCallBody('{"name": "get_time", "parameters": {"a": 1}}', known)).toEqual({ name: 'get_time', argumentsJson: '{"a":1}' });
    expect(parseToolCallBody('{"name": "get_time", "arguments": "{\\"a\\": 1}"}', known)).toEqual({ name: 'get_time', argumentsJson: '{"a": 1}' });
  });
});

describe('forced tool choice', () => {
  it('named: the output is the arguments object of that function', () => {
    const s = forcedToolSchema([weather, time], 'get_weather');
    expect(accepts(s, '{"city":"Paris"}')).toBe(true);
    expect(accepts(s, '{}')).toBe(false);
    expect(accepts(forcedToolSchema([weather, time], 'get_time'), '{}')).toBe(true);
    expect(forcedToolSchema([weather], 'auto')).toBeUndefined();
    expect(forcedToolSchema([weather], 'none')).toBeUndefined();
  });

  it('required: an array of 1..8 {name, arguments} over all tools, $defs hoisted per tool', () => {
    const withRef: ToolSpec = {
      name: 'book',
      description: '',
      parametersJson: JSON.stringify({ type: 'object', properties: { who: { $ref: '#/$defs/Person' } }, required: ['who'], $defs: { Person: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } } }),
    };
    const s = forcedToolSchema([weather, time, withRef], 'required');
    expect(accepts(s, '[{"name":"get_weather","arguments":{"city":"Paris"}},{"name":"book","arguments":{"who":{"name":"Ada"}}}]')).toBe(true);
    expect(accepts(s, '[]')).toBe(false);
    expect(accepts(s, '[{"name":"nope","arguments":{}}]')).toBe(false);
    // parallel_tool_calls false: exactly one call.
    const one = forcedToolSchema([weather, time], 'required', 1);
    expect(accepts(one, '[{"name":"get_time","arguments":{}}]')).toBe(true);
    expect(accepts(one, '[{"name":"get_time","arguments":{}},{"name":"get_time","arguments":{}}]')).toBe(false);
    expect(parseRequiredCalls('[{"name":"get_time","arguments":{}}]')).toEqual([{ name: 'get_time', argumentsJson: '{}' }]);
    expect(parseRequiredCalls('[{"name":"get_time","argu')).toBeUndefined();
  });

  it('a tool whose parameters are not JSON is INVALID_ARGUMENT naming the tool', () => {
    expect(() => forcedToolSchema([{ name: 'x', description: '', parametersJson: '{' }], 'x')).toThrow(/parameters of tool "x" are not valid JSON/);
  });
});

describe('renderToolTurns (Hermes layout)', () => {
  type P = { kind: 'text'; text: string } | { kind: 'image'; index: number };
  const text = (t: string): P => ({ kind: 'text', text: t });

  it('tools into the system turn, calls into the assistant turn, consecutive results into one user turn', () => {
    const turns = renderToolTurns<P>(
      [
        { role: 'user', parts: [text('Weather and time?')] },
        { role: 'assistant', parts: [], toolCalls: [{ name: 'get_weather', argumentsJson: '{"city": "Paris"}' }, { name: 'get_time', argumentsJson: '{}' }] },
        { role: 'tool', parts: [text('sunny')] },
        { role: 'tool', parts: [text('12:00')] },
      ],
      [weather, time],
      true,
      'You are a helpful assistant.',
    );
    expect(turns.map((t) => t.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(turns[0]!.parts).toEqual([text('You are a helpful assistant.'), text(`\n${hermesToolsSection([weather, time])}`)]);
    expect(turns[2]!.parts).toEqual([text('<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>')]);
    expect(turns[3]!.parts).toEqual([text('<tool_response>\nsunny\n</tool_response>'), text('<tool_response>\n12:00\n</tool_response>')]);
  });

  it('an existing system turn gets the tools appended; tool_choice none shows no tools', () => {
    const sys = renderToolTurns<P>([{ role: 'system', parts: [text('Be brief.')] }, { role: 'user', parts: [text('hi')] }], [weather], true, 'default');
    expect(sys[0]!.parts[0]).toEqual(text('Be brief.'));
    expect((sys[0]!.parts[1] as { text: string }).text).toMatch(/^\n# Tools\n\n.*"name":"get_weather"/s);
    expect(renderToolTurns<P>([{ role: 'user', parts: [text('hi')] }], [weather], false, 'default')).toEqual([{ role: 'user', parts: [text('hi')] }]);
  });
});
