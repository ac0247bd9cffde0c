/**
 * An edge site forwards a hub model's request as `tessera.gateway.v1.ChatCompletionRequest`; the hub
 * gateway turns it back into the OpenAI shape and validates it again. Whatever the site accepted must
 * come out at the hub as the same validated request: response_format, tools and tool turns,
 * downsample_mode, images, sampling. (The whole path over a leaf link is in e2e/src/edge.e2e.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { gatewayV1 } from '@tessera/contracts';
import { DEFAULT_CHAT_LIMITS } from '../../domain/openai/limits.js';
import { modelFeatures } from '../../domain/openai/response-format.js';
import { validateChatRequest } from '../../domain/openai/validate-chat.js';
import { validateCompletionRequest } from '../../domain/openai/validate-completion.js';
import { toOpenAi, validateGatewayRequest } from '../../service.js';
import { toProto } from './hub-chat.js';

const MODEL = 'hub-big';
const features = modelFeatures('2.6');
const atSite = (body: Record<string, unknown>) => validateChatRequest({ model: MODEL, ...body }, DEFAULT_CHAT_LIMITS, [MODEL], features);
/** Through the wire format (encode + decode), as the uplink carries it. */
const atHub = (proto: gatewayV1.ChatCompletionRequest) => validateChatRequest(toOpenAi(gatewayV1.ChatCompletionRequest.decode(gatewayV1.ChatCompletionRequest.encode(proto).finish()), 'default'), DEFAULT_CHAT_LIMITS, [MODEL], features);
const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe('edge → hub request forwarding', () => {
  const schema = { type: 'object', properties: { city: { type: 'string', enum: ['Paris', 'Rome'] } }, required: ['city'], additionalProperties: false };
  const cases: Record<string, Record<string, unknown>> = {
    'response_format json_schema': { messages: [{ role: 'user', content: 'JSON please' }], response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } } },
    'response_format json_object': { messages: [{ role: 'user', content: 'JSON please' }], response_format: { type: 'json_object' } },
    'tools with a named tool_choice and parallel_tool_calls false': {
      messages: [{ role: 'user', content: 'Weather?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: schema } }, { type: 'function', function: { name: 'now' } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
    },
    'a tool-call history (assistant tool_calls with null content, a tool result)': {
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '18 °C' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: schema } }],
      tool_choice: 'required',
    },
    'downsample_mode, an image with max_slice_nums, sampling': {
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1x1}` } }, { type: 'text', text: 'What?' }] }],
      mm_processor_kwargs: { downsample_mode: '4x' },
      max_slice_nums: 4,
      temperature: 0.5,
      top_p: 0.9,
      seed: 7,
      stop: ['\n\n'],
      max_tokens: 12,
      user: 'u-1',
    },
    'chat_template_kwargs.enable_thinking true': { messages: [{ role: 'user', content: 'Think first.' }], chat_template_kwargs: { enable_thinking: true } },
    'chat_template_kwargs.enable_thinking false': { messages: [{ role: 'user', content: 'Answer now.' }], chat_template_kwargs: { enable_thinking: false } },
    'continue_final_message (assistant prefill)': { messages: [{ role: 'user', content: 'Name a colour.' }, { role: 'assistant', content: 'My favourite is' }], continue_final_message: true },
    'add_generation_prompt false': { messages: [{ role: 'user', content: 'Name a colour.' }], add_generation_prompt: false },
    "OpenAI's n (several choices) with a seed": { messages: [{ role: 'user', content: 'Two answers' }], n: 3, seed: 11, temperature: 1 },
    "vLLM's sampling extras (min_tokens, ignore_eos, stop_token_ids, logit_bias)": { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 9, min_tokens: 3, ignore_eos: true, stop_token_ids: [7, 9], logit_bias: { '42': -5 } },
  };
  for (const [name, body] of Object.entries(cases)) {
    it(`carries ${name}`, () => {
      const site = atSite(body);
      expect(atHub(toProto(site))).toEqual(site);
    });
  }

  it('carries a 4.5 video part (frames, fps, packing) to a hub model declared 4.5', () => {
    const v45 = modelFeatures('4.5');
    const frame = `data:image/png;base64,${PNG_1x1}`;
    const body = { model: MODEL, messages: [{ role: 'user', content: [{ type: 'video', video: [frame, frame, frame], fps: 3, packing: 3 }, { type: 'video', video: [frame], fps: 1 }, { type: 'text', text: 'What happens?' }] }] };
    const limits = { ...DEFAULT_CHAT_LIMITS, maxVideosPerRequest: 2 };
    const site = validateChatRequest(body, limits, [MODEL], v45);
    const wire = gatewayV1.ChatCompletionRequest.decode(gatewayV1.ChatCompletionRequest.encode(toProto(site)).finish());
    expect(validateChatRequest(toOpenAi(wire, 'default'), limits, [MODEL], v45)).toEqual(site);
  });

  it('the hub refuses schema text that is not JSON, naming the field', () => {
    const proto = toProto(atSite(cases['tools with a named tool_choice and parallel_tool_calls false']!));
    proto.tools[0]!.parametersJson = '{';
    expect(() => atHub(proto)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: expect.objectContaining({ field: 'tools[0].parameters_json' }) }));
  });

  it('carries a text completion (prompt, sampling, logprobs) to a hub model; echo stays at the site, which has the prompt', () => {
    const body = { model: MODEL, prompt: 'Once upon a time', max_tokens: 9, temperature: 0.5, stop: ['\n'], logprobs: 2, seed: 4, ignore_eos: true, user: 'u-2', n: 2 };
    const site = validateCompletionRequest(body, DEFAULT_CHAT_LIMITS, [MODEL]);
    const wire = gatewayV1.ChatCompletionRequest.decode(gatewayV1.ChatCompletionRequest.encode(toProto(site)).finish());
    expect(wire.messages).toEqual([]);
    expect(validateGatewayRequest(wire, DEFAULT_CHAT_LIMITS, MODEL, features)).toEqual(site);
    const echoed = validateCompletionRequest({ ...body, logprobs: null, echo: true }, DEFAULT_CHAT_LIMITS, [MODEL]);
    expect(validateGatewayRequest(gatewayV1.ChatCompletionRequest.decode(gatewayV1.ChatCompletionRequest.encode(toProto(echoed)).finish()), DEFAULT_CHAT_LIMITS, MODEL, features)).toEqual({ ...echoed, echo: false });
    // A prompt of token ids travels as prompt_token_ids; the hub validates it as the site did.
    const ids = validateCompletionRequest({ ...body, prompt: [9707, 11, 1879] }, DEFAULT_CHAT_LIMITS, [MODEL]);
    const idsWire = gatewayV1.ChatCompletionRequest.decode(gatewayV1.ChatCompletionRequest.encode(toProto(ids)).finish());
    expect([idsWire.prompt, idsWire.promptTokenIds?.ids]).toEqual([undefined, [9707, 11, 1879]]);
    expect(validateGatewayRequest(idsWire, DEFAULT_CHAT_LIMITS, MODEL, features)).toEqual(ids);
  });
});
