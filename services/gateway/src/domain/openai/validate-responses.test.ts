import { describe, expect, it } from 'vitest';
import { DEFAULT_CHAT_LIMITS } from './limits.js';
import { validateChatRequest } from './validate-chat.js';
import { validateResponsesRequest } from './validate-responses.js';
import { refusalOf } from './test/refusal.js';

const validate = (body: object) => validateResponsesRequest({ model: 'm', ...body }, DEFAULT_CHAT_LIMITS, ['m']);
const chat = (body: object) => validateChatRequest({ model: 'm', ...body }, DEFAULT_CHAT_LIMITS, ['m']);
/** The 400's field and message (the request must be refused). */
const refusal = (body: object) => {
  const { field, message } = refusalOf(() => validate(body));
  return { field, message };
};
const PNG = 'data:image/png;base64,iVBORw0KGgo=';

describe('validateResponsesRequest: the chat request a Responses body is', () => {
  it('a string input is one user message; instructions a system message before it; max_output_tokens is max_tokens', () => {
    const v = validate({ input: 'Hi there', instructions: 'Be brief.', max_output_tokens: 7, temperature: 0, top_p: 0.5, user: 'u1' });
    const { responses, ...asChat } = v;
    expect(asChat).toEqual(chat({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi there' }], max_tokens: 7, temperature: 0, top_p: 0.5, user: 'u1' }));
    expect(responses).toMatchObject({ instructions: 'Be brief.', maxOutputTokens: 7, toolChoice: 'auto', parallelToolCalls: true, text: { format: { type: 'text' } }, metadata: {}, user: 'u1' });
    expect(v.n).toBeUndefined();
  });

  it('message items with input_text / input_image / output_text parts, developer role, type optional', () => {
    const v = validate({
      input: [
        { role: 'developer', content: 'Rules.' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What is this?' }, { type: 'input_image', image_url: PNG, detail: 'auto' }] },
        { type: 'message', role: 'assistant', status: 'completed', id: 'msg_1', content: [{ type: 'output_text', text: 'A picture.', annotations: [] }] },
        { role: 'user', content: 'And now?' },
      ],
    });
    const { responses: _, ...asChat } = v;
    expect(asChat).toEqual(
      chat({
        messages: [
          { role: 'developer', content: 'Rules.' },
          { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: PNG } }] },
          { role: 'assistant', content: [{ type: 'text', text: 'A picture.' }] },
          { role: 'user', content: 'And now?' },
        ],
      }),
    );
    expect(v.images).toHaveLength(1);
  });

  it('function_call items join the assistant turn before them as tool_calls; outputs are tool messages; reasoning items are skipped', () => {
    const tools = [{ type: 'function', name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true }];
    const v = validate({
      tools,
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
      input: [
        { role: 'user', content: 'Weather in Paris and Oslo?' },
        { type: 'reasoning', id: 'rs_1', summary: [], content: [{ type: 'reasoning_text', text: 'hm' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] },
        { type: 'function_call', call_id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call', call_id: 'call_b', name: 'get_weather', arguments: '{"city":"Oslo"}' },
        { type: 'function_call_output', call_id: 'call_a', output: '18C' },
        { type: 'function_call_output', call_id: 'call_b', output: '3C' },
      ],
    });
    expect(v.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool']);
    expect(v.messages[1]).toEqual({ role: 'assistant', parts: [{ kind: 'text', text: 'Checking.' }], toolCalls: [{ id: 'call_a', name: 'get_weather', argumentsJson: '{"city":"Paris"}' }, { id: 'call_b', name: 'get_weather', argumentsJson: '{"city":"Oslo"}' }] });
    expect(v.messages[3]).toEqual({ role: 'tool', parts: [{ kind: 'text', text: '3C' }], toolCallId: 'call_b' });
    expect(v.tools).toEqual({ tools: [{ name: 'get_weather', description: 'Weather', parametersJson: JSON.stringify(tools[0]!.parameters) }], choice: 'get_weather', parallel: false });
    expect(v.responses.tools).toEqual([{ type: 'function', name: 'get_weather', description: 'Weather', parameters: tools[0]!.parameters, strict: true }]);
    // A call with no assistant text before it is an assistant turn of its own.
    const alone = validate({ input: [{ role: 'user', content: 'x' }, { type: 'function_call', call_id: 'c', name: 'f', arguments: '{}' }, { type: 'function_call_output', call_id: 'c', output: 'ok' }] });
    expect(alone.messages[1]).toEqual({ role: 'assistant', parts: [], toolCalls: [{ id: 'c', name: 'f', argumentsJson: '{}' }] });
  });

  it('text.format is response_format; reasoning.effort is thinking on or off; include asks for logprobs; metadata is kept', () => {
    const schema = { type: 'object', properties: { a: { type: 'boolean' } }, required: ['a'], additionalProperties: false };
    const v = validate({ input: 'x', text: { format: { type: 'json_schema', name: 'obj', schema, strict: true } }, reasoning: { effort: 'high', summary: 'auto' }, include: ['message.output_text.logprobs'], top_logprobs: 3, metadata: { k: 'v' } });
    expect(v.responseFormat).toEqual({ kind: 'json_schema', name: 'obj', schemaJson: JSON.stringify(schema), strict: true });
    expect(v.enableThinking).toBe(true);
    expect([v.sampling.logprobs, v.sampling.topLogprobs]).toEqual([true, 3]);
    expect(v.responses).toMatchObject({ reasoning: { effort: 'high', summary: 'auto' }, metadata: { k: 'v' }, topLogprobs: 3, text: { format: { type: 'json_schema', name: 'obj' } } });
    expect(validate({ input: 'x', reasoning: { effort: 'minimal' } }).enableThinking).toBe(false);
    expect(validate({ input: 'x', reasoning: {} }).enableThinking).toBeUndefined();
    expect(validate({ input: 'x', text: { format: { type: 'json_object' } } }).responseFormat).toEqual({ kind: 'json_object' });
    // top_logprobs without include returns none (as vLLM): no logprobs asked for.
    expect(validate({ input: 'x', top_logprobs: 2 }).sampling.logprobs).toBe(false);
    // store is accepted (nothing is stored: the answer says store false).
    expect(validate({ input: 'x', store: true }).stream).toBe(false);
  });

  it("chat's 400s, with the field named in the Responses body's terms", () => {
    expect(refusal({ input: 'x', max_output_tokens: 1_000_000 })).toEqual({ field: 'max_output_tokens', message: `max_output_tokens is 1000000; allowed: 1 <= max_output_tokens <= ${DEFAULT_CHAT_LIMITS.maxTokensLimit}` });
    expect(refusal({ input: 'x', temperature: 3 }).field).toBe('temperature');
    expect(refusal({ input: [{ role: 'user', content: 'a' }, { role: 'robot', content: 'b' }] }).field).toBe('input[1].role');
    expect(refusal({ input: [{ role: 'user', content: [{ type: 'input_text', text: 'a' }, { type: 'input_image', image_url: 'ftp://x/y.png' }] }] }).field).toBe('input[0].content[1].image_url');
    expect(refusal({ input: [{ role: 'system', content: [{ type: 'input_image', image_url: PNG }] }] }).field).toBe('input[0].content[0].type');
    expect(refusal({ input: 'x', tools: [{ type: 'function', name: 'f', parameters: { type: 'object', properties: { a: { type: 'text' } } } }] }).field).toBe('tools[0].parameters.properties.a.type');
    expect(refusal({ input: 'x', tools: [{ type: 'function', name: 'f' }], tool_choice: { type: 'function', name: 'g' } }).field).toBe('tool_choice.name');
    const schema = refusal({ input: 'x', text: { format: { type: 'json_schema', name: 'n', schema: { type: 'object', properties: { n: { type: 'integer', minimum: 1 } } } } } });
    expect(schema.field).toBe('text.format.schema.properties.n.minimum');
    expect(refusal({ input: 'x', text: { format: { type: 'xml' } } })).toMatchObject({ field: 'text.format.type', message: expect.stringContaining('text.format.type must be') });
    expect(refusal({ instructions: 7, input: 'x' }).field).toBe('instructions');
    expect(refusal({ input: 'x'.repeat(DEFAULT_CHAT_LIMITS.maxTextChars + 1) }).field).toBe('input');
    expect(refusal({ input: [] }).field).toBe('input');
    expect(refusal({ model: 'm' }).field).toBe('input');
  });

  it('what this server cannot honour is a 400 naming it, never dropped', () => {
    expect(refusal({ input: 'x', conversation: 'conv_1' }).field).toBe('conversation');
    expect(refusal({ input: 'x', background: true }).field).toBe('background');
    expect(refusal({ input: 'x', truncation: 'auto' }).field).toBe('truncation');
    expect(refusal({ input: 'x', max_tool_calls: 2 }).field).toBe('max_tool_calls');
    expect(refusal({ input: 'x', prompt: { id: 'pmpt_1' } }).field).toBe('prompt');
    expect(refusal({ input: 'x', tools: [{ type: 'web_search' }] })).toMatchObject({ field: 'tools[0].type', message: expect.stringContaining('web_search') });
    expect(refusal({ input: 'x', tools: [{ type: 'function', name: 'f' }], tool_choice: { type: 'file_search' } }).field).toBe('tool_choice.type');
    expect(refusal({ input: 'x', include: ['file_search_call.results'] }).field).toBe('include[0]');
    expect(refusal({ input: 'x', reasoning: { effort: 'max' } }).field).toBe('reasoning.effort');
    expect(refusal({ input: 'x', text: { verbosity: 'low' } }).field).toBe('text.verbosity');
    expect(refusal({ input: [{ type: 'item_reference', id: 'msg_1' }] }).field).toBe('input[0].type');
    expect(refusal({ input: [{ type: 'web_search_call', id: 'ws_1' }] }).field).toBe('input[0].type');
    expect(refusal({ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] }).field).toBe('input[0].content[0].file_id');
    expect(refusal({ input: [{ role: 'user', content: [{ type: 'input_file', file_data: 'x' }] }] }).field).toBe('input[0].content[0].type');
    expect(refusal({ input: [{ role: 'user', content: 'x' }, { type: 'function_call_output', call_id: 'call_x', output: 'r' }] }).field).toBe('input[1].call_id');
    expect(refusal({ input: 'x', metadata: { k: 1 } }).field).toBe('metadata.k');
    expect(refusal({ input: [{ role: 'tool', content: 'r', tool_call_id: 'c' }] }).field).toBe('input[0].role');
    // Unknown fields are ignored, as on chat.
    expect(validate({ input: 'x', service_tier: 'auto', prompt_cache_key: 'k', n: 3 }).n).toBeUndefined();
  });
});

describe('validateResponsesRequest: previous_response_id (the stored conversation comes first)', () => {
  const prior = {
    id: 'resp_1',
    items: [
      { role: 'user', content: 'What is the weather in Paris?' },
      { id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' },
    ],
  };
  const withPrior = (body: object, limits = DEFAULT_CHAT_LIMITS) => validateResponsesRequest({ model: 'm', previous_response_id: 'resp_1', ...body }, limits, ['m'], undefined, undefined, prior);

  it('the previous conversation, then input, as one chat; instructions are this request’s only (not inherited)', () => {
    const v = withPrior({ instructions: 'Be brief.', input: [{ type: 'function_call_output', call_id: 'call_1', output: 'sunny' }] });
    expect(v.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
    expect(v.messages[2]!.toolCalls).toEqual([{ id: 'call_1', name: 'get_weather', argumentsJson: '{"city":"Paris"}' }]);
    expect(v.messages[3]!.toolCallId).toBe('call_1');
    expect(v.responses).toMatchObject({ previousResponseId: 'resp_1', store: true, input: [{ type: 'function_call_output', call_id: 'call_1', output: 'sunny' }] });
    // A string input is one user message after the conversation; it is also what a stored response keeps of it.
    const s = withPrior({ input: 'thanks', store: false });
    expect(s.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(s.responses).toMatchObject({ store: false, input: [{ type: 'message', role: 'user', content: 'thanks' }] });
  });

  it("errors in this input name its own index; the chain's limits name input and say the conversation counts", () => {
    expect(refusalOf(() => withPrior({ input: [{ role: 'user', content: 'a' }, { role: 'bogus', content: 'b' }] })).field).toBe('input[1].role');
    expect(refusalOf(() => withPrior({ input: [{ type: 'function_call_output', call_id: 'call_9', output: 'x' }] })).field).toBe('input[0].call_id');
    const limits = { ...DEFAULT_CHAT_LIMITS, maxMessages: 2 };
    const over = refusalOf(() => withPrior({ input: 'one more' }, limits));
    expect(over).toMatchObject({ field: 'input', message: expect.stringContaining('previous_response_id "resp_1", 2 items') });
    const long = refusalOf(() => withPrior({ input: 'x'.repeat(DEFAULT_CHAT_LIMITS.maxTextChars) }));
    expect(long).toMatchObject({ field: 'input', message: expect.stringContaining('previous_response_id') });
  });

  it('an id the caller did not resolve (nothing stored here) is a 404 naming previous_response_id', () => {
    expect(() => validate({ input: 'x', previous_response_id: 'resp_1' })).toThrow(expect.objectContaining({ code: 'NOT_FOUND', details: { field: 'previous_response_id' } }));
    expect(refusal({ input: 'x', previous_response_id: 7 }).field).toBe('previous_response_id');
  });
});
