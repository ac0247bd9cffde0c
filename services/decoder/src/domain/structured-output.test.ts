/**
 * Constrained decoding through the real decoder: tiny MiniCPM-V checkpoint on onnxruntime, the real
 * Qwen tokenizer's 151k-token vocabulary, the sampler's mask hook. A random-weight model never writes
 * JSON on its own, so every valid document below exists only because of the mask.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonV1, decodingV1 } from '@tessera/contracts';
import { loadConfig } from '@tessera/config';
import { localClient, TesseraError, type ServiceClient } from '@tessera/runtime';
import { decoderSchema } from '../config.js';
import { createDecoderApp, type DecoderApp } from '../compose.js';
import { decoderService } from '../service.js';

let app: DecoderApp;
let client: ServiceClient<typeof decodingV1.DecoderServiceService>;

beforeAll(async () => {
  app = await createDecoderApp(loadConfig(decoderSchema, { TESSERA_DECODER_MAX_BATCH: '4', TESSERA_DECODER_MAX_TOKENS_LIMIT: '256', TESSERA_DECODER_MAX_CONTEXT: '1024', TESSERA_INTRA_OP_THREADS: '1' }));
  client = localClient(decodingV1.DecoderServiceService, decoderService(app.deps()));
});
afterAll(() => app?.close());

const schema = {
  type: 'object',
  properties: { ok: { type: 'boolean' }, mood: { enum: ['happy', 'sad', 'calm'] }, note: { anyOf: [{ type: 'null' }, { type: 'integer' }] } },
  required: ['ok', 'mood', 'note'],
  additionalProperties: false,
};

function request(o: { schemaJson?: string; jsonObject?: boolean; temperature?: number; seed?: number; maxTokens?: number; tools?: decodingV1.Tool[]; toolChoice?: string; messages?: decodingV1.Message[]; parallel?: boolean }): decodingV1.GenerateRequest {
  return {
    requestId: `so-${Math.random().toString(36).slice(2)}`,
    messages: o.messages ?? [{ role: commonV1.Role.USER, parts: [{ part: { $case: 'text', text: 'Reply in JSON.' } }] }],
    prompt: [],
    images: [],
    sampling: { temperature: o.temperature ?? 0, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, stop: [], stopTokenIds: [], logprobs: false, topLogprobs: 0, maxTokens: o.maxTokens ?? 64, ...(o.seed !== undefined && { seed: o.seed }) },
    modelRevision: '',
    tools: o.tools ?? [],
    toolChoice: o.toolChoice ?? '',
    ...(o.parallel === false && { parallelToolCalls: false }),
    ...(o.schemaJson !== undefined && { responseFormat: { format: { $case: 'jsonSchema', jsonSchema: { name: 's', schemaJson: o.schemaJson, strict: true } } } }),
    ...(o.jsonObject && { responseFormat: { format: { $case: 'jsonObject', jsonObject: {} } } }),
  };
}

async function run(req: decodingV1.GenerateRequest): Promise<{ text: string; finish: commonV1.FinishReason; promptTokens: number }> {
  let text = '';
  let finish = commonV1.FinishReason.UNSPECIFIED;
  let promptTokens = 0;
  for await (const c of client.generate(req, { tenant: 't1' })) {
    text += c.textDelta;
    if (c.finishReason) finish = c.finishReason;
    if (c.usage) promptTokens = c.usage.promptTokens;
  }
  return { text, finish, promptTokens };
}

describe('structured output (response_format) in the decoder', () => {
  it('greedy and sampled generations are documents of the schema, ended by end-of-sequence', async () => {
    for (const r of [request({ schemaJson: JSON.stringify(schema) }), request({ schemaJson: JSON.stringify(schema), temperature: 1, seed: 7 }), request({ schemaJson: JSON.stringify(schema), temperature: 0.8, seed: 3 })]) {
      const { text, finish } = await run(r);
      expect(finish, text).toBe(commonV1.FinishReason.STOP);
      const v = JSON.parse(text) as Record<string, unknown>;
      expect(Object.keys(v).sort()).toEqual(['mood', 'note', 'ok']);
      expect(typeof v.ok).toBe('boolean');
      expect(['happy', 'sad', 'calm']).toContain(v.mood);
      expect(v.note === null || Number.isInteger(v.note)).toBe(true);
    }
  });

  it('the same request without response_format is not JSON (the mask is what makes it so)', async () => {
    const { text } = await run(request({ maxTokens: 16 }));
    expect(() => JSON.parse(text)).toThrow();
  });

  it('json_object: output starts as an object and stays a valid prefix', async () => {
    const { text, finish } = await run(request({ jsonObject: true, maxTokens: 24, temperature: 1, seed: 11 }));
    expect(text.startsWith('{')).toBe(true);
    if (finish === commonV1.FinishReason.STOP) expect(typeof JSON.parse(text)).toBe('object');
  });

  it('refuses an unsupported keyword naming it', async () => {
    const bad = request({ schemaJson: JSON.stringify({ type: 'object', properties: { n: { type: 'integer', minimum: 3 } } }) });
    const err = await run(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'response_format.json_schema.schema.properties.n.minimum' } });
    expect((err as Error).message).toContain('"minimum"');
  });
});

describe('tool calls in the decoder (Hermes template, forced choices constrained)', () => {
  const weather: decodingV1.Tool = { name: 'get_weather', description: 'Weather for a city', parametersJson: JSON.stringify({ type: 'object', properties: { city: { enum: ['Paris', 'Oslo'] }, celsius: { type: 'boolean' } }, required: ['city', 'celsius'], additionalProperties: false }) };
  const clock: decodingV1.Tool = { name: 'get_time', description: 'The time', parametersJson: '' };
  const text = (t: string) => ({ part: { $case: 'text' as const, text: t } });

  it('a named tool_choice makes the output its arguments; "required" an array of calls', async () => {
    const named = await run(request({ tools: [weather, clock], toolChoice: 'get_weather', temperature: 1, seed: 5 }));
    expect(named.finish, named.text).toBe(commonV1.FinishReason.STOP);
    const args = JSON.parse(named.text) as { city: string; celsius: boolean };
    expect(['Paris', 'Oslo']).toContain(args.city);
    expect(typeof args.celsius).toBe('boolean');
    // At most 8 calls of ~19 tokens each fit in 200 tokens, so the array always closes.
    const required = await run(request({ tools: [clock], toolChoice: 'required', temperature: 0.7, seed: 2, maxTokens: 200 }));
    expect(required.finish, required.text).toBe(commonV1.FinishReason.STOP);
    const calls = JSON.parse(required.text) as { name: string; arguments: unknown }[];
    expect(calls.length).toBeGreaterThanOrEqual(1);
    for (const c of calls) expect(c).toEqual({ name: 'get_time', arguments: {} });
    // parallel_tool_calls false: the array holds exactly one call.
    const single = await run(request({ tools: [clock], toolChoice: 'required', temperature: 0.7, seed: 2, maxTokens: 64, parallel: false }));
    expect(single.finish, single.text).toBe(commonV1.FinishReason.STOP);
    expect(JSON.parse(single.text)).toEqual([{ name: 'get_time', arguments: {} }]);
    // Two tools: every element is a call of one of them (the array may be cut by max_tokens).
    const two = await run(request({ tools: [weather, clock], toolChoice: 'required', temperature: 0.7, seed: 2, maxTokens: 48 }));
    expect(two.text.startsWith('[{"')).toBe(true);
  });

  it('tools are rendered into the prompt (unless tool_choice is "none"); a tool round trip in history is accepted', async () => {
    const plain = await run(request({ maxTokens: 1 }));
    const auto = await run(request({ tools: [weather], maxTokens: 1 }));
    const none = await run(request({ tools: [weather], toolChoice: 'none', maxTokens: 1 }));
    expect(auto.promptTokens).toBeGreaterThan(plain.promptTokens + 50);
    expect(none.promptTokens).toBe(plain.promptTokens);
    const history: decodingV1.Message[] = [
      { role: commonV1.Role.USER, parts: [text('Weather in Paris?')] },
      { role: commonV1.Role.ASSISTANT, parts: [], tool: { calls: [{ id: 'call_1', name: 'get_weather', argumentsJson: '{"city":"Paris","celsius":true}' }], callId: '' } },
      { role: commonV1.Role.TOOL, parts: [text('18 degrees, sunny')], tool: { calls: [], callId: 'call_1' } },
    ];
    const answer = await run(request({ tools: [weather], messages: history, maxTokens: 4 }));
    expect(answer.promptTokens).toBeGreaterThan(auto.promptTokens);
    const wrong = await run(request({ messages: [{ role: commonV1.Role.USER, parts: [text('x')], tool: { calls: [{ id: 'c', name: 'f', argumentsJson: '{}' }], callId: '' } }] })).catch((e: unknown) => e);
    expect(wrong).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'messages[0].tool.calls' } });
  });
});
