/**
 * OpenAI's Responses API (`POST /v1/responses`) on the real stack (vision stages, decoder, feedback
 * and gateway as processes, tiny checkpoint), driven by the official `openai` SDK's
 * `client.responses`: the answer is chat's greedy answer for the same conversation (same text, same
 * usage), the SDK's stream helper assembles the events into the same response, images and function
 * tools (a forced call, then its output answered) work as on chat, json_schema output parses, a field
 * this server cannot honour is a 400 naming it, and feedback on the `resp_` id is accepted.
 * Stored responses: a conversation continued by `previous_response_id` answers exactly what the same
 * conversation sent whole in `input` answers (greedy; text, images, a function call's output),
 * `retrieve` returns the response as created, `delete` removes it, another tenant's id is a 404.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import OpenAI from 'openai';
import type { RunningStack } from '@tessera/local-stack';
import { SDK_MODEL as MODEL, startSdkStack, submitFeedbackWhenRecorded } from './sdk-stack.js';
import { weatherTool } from './tools.js';

let stack: RunningStack;
let client: OpenAI;
let key: string;

beforeAll(async () => {
  ({ stack, client, key } = await startSdkStack('responses', ['slicer', 'resampler', 'decoder', 'feedback', 'gateway'], ['responses-other']));
}, 420_000);

afterAll(async () => {
  await stack?.stop();
});

const INSTRUCTIONS = 'You answer in one short sentence.';
const QUESTION = 'What colour is the sea?';
/** The function tool in the Responses API's flat shape (chat nests it under `function`). */
const flatWeather = { type: 'function' as const, name: weatherTool.function.name, description: weatherTool.function.description, parameters: weatherTool.function.parameters, strict: true };
const badRequest = (err: unknown) => {
  expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  return err as InstanceType<typeof OpenAI.BadRequestError>;
};

describe('official openai SDK: client.responses', () => {
  it("text: the answer and usage are chat's greedy answer for the same conversation; the id is in x-response-id", async () => {
    const chat = await client.chat.completions.create({ model: MODEL, max_tokens: 10, temperature: 0, messages: [{ role: 'system', content: INSTRUCTIONS }, { role: 'user', content: QUESTION }] });
    const { data: r, response } = await client.responses.create({ model: MODEL, instructions: INSTRUCTIONS, input: QUESTION, max_output_tokens: 10, temperature: 0, metadata: { suite: 'e2e' } }).withResponse();
    expect(r.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(response.headers.get('x-response-id')).toBe(r.id);
    expect(r.object).toBe('response');
    expect(r.output_text).toBe(chat.choices[0]!.message.content);
    expect(r.output_text.length).toBeGreaterThan(0);
    expect(r.status).toBe(chat.choices[0]!.finish_reason === 'length' ? 'incomplete' : 'completed');
    expect(r.usage).toMatchObject({ input_tokens: chat.usage!.prompt_tokens, output_tokens: chat.usage!.completion_tokens, total_tokens: chat.usage!.total_tokens, output_tokens_details: { reasoning_tokens: 0 } });
    expect(r.metadata).toEqual({ suite: 'e2e' });
    expect(r.instructions).toBe(INSTRUCTIONS);
  });

  it("streaming: the SDK's stream helper assembles the events into the JSON answer; the raw events end with response.completed/incomplete", async () => {
    const params = { model: MODEL, instructions: INSTRUCTIONS, input: QUESTION, max_output_tokens: 10, temperature: 0 };
    const json = await client.responses.create(params);
    const stream = client.responses.stream(params);
    const deltas: string[] = [];
    stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
    const streamed = await stream.finalResponse();
    expect(streamed.output_text).toBe(json.output_text);
    expect(deltas.join('')).toBe(json.output_text);
    expect(streamed.usage).toEqual(json.usage);
    expect(streamed.status).toBe(json.status);
    expect(streamed.output.map((i) => i.type)).toEqual(json.output.map((i) => i.type));

    const raw = await client.responses.create({ ...params, stream: true });
    const types: string[] = [];
    for await (const ev of raw) types.push(ev.type);
    expect(types.slice(0, 2)).toEqual(['response.created', 'response.in_progress']);
    expect(types.at(-1)).toBe(json.status === 'completed' ? 'response.completed' : 'response.incomplete');
  });

  it("an input_image is chat's image_url: the same answer and prompt count", async () => {
    const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 40, g: 120, b: 200 } } }).png().toBuffer();
    const url = `data:image/png;base64,${png.toString('base64')}`;
    const chat = await client.chat.completions.create({ model: MODEL, max_tokens: 6, temperature: 0, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: 'What is this?' }] }] });
    const r = await client.responses.create({ model: MODEL, max_output_tokens: 6, temperature: 0, input: [{ role: 'user', content: [{ type: 'input_image', image_url: url, detail: 'auto' }, { type: 'input_text', text: 'What is this?' }] }] });
    expect(r.output_text).toBe(chat.choices[0]!.message.content);
    expect(r.usage!.input_tokens).toBe(chat.usage!.prompt_tokens);
    expect(r.usage!.input_tokens).toBeGreaterThan(64); // the image's visual tokens
  });

  it('function tool round trip: a forced call is a function_call item with schema-valid arguments; its function_call_output is answered', async () => {
    const question = { role: 'user' as const, content: 'Weather in Paris?' };
    const first = await client.responses.create({ model: MODEL, max_output_tokens: 32, input: [question], tools: [flatWeather], tool_choice: { type: 'function', name: 'get_weather' } });
    const call = first.output.find((i) => i.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error(`no function_call item: ${JSON.stringify(first.output)}`);
    expect(call).toMatchObject({ name: 'get_weather', status: 'completed' });
    expect(call.call_id).toMatch(/^call_/);
    const args = JSON.parse(call.arguments) as { city: string; celsius: boolean };
    expect(['Paris', 'Oslo']).toContain(args.city);
    expect(typeof args.celsius).toBe('boolean');
    // The SDK's output items go back into input as they are, followed by the call's output.
    const second = await client.responses.create({
      model: MODEL,
      max_output_tokens: 8,
      tools: [flatWeather],
      input: [question, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ temperature: 18, sky: 'sunny' }) }],
    });
    expect(['completed', 'incomplete']).toContain(second.status);
    expect(second.output.length).toBeGreaterThan(0);
    expect(second.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens);
  });

  it('json_schema structured output (text.format) parses into an object of the schema', async () => {
    const schema = { type: 'object', properties: { happy: { type: 'boolean' }, weather: { type: 'string', enum: ['sun', 'rain', 'snow'] } }, required: ['happy', 'weather'], additionalProperties: false };
    const r = await client.responses.create({ model: MODEL, max_output_tokens: 64, input: 'How is the weather? Answer in JSON.', text: { format: { type: 'json_schema', name: 'mood', schema, strict: true } } });
    expect(r.status).toBe('completed');
    const parsed = JSON.parse(r.output_text) as { happy: boolean; weather: string };
    expect(typeof parsed.happy).toBe('boolean');
    expect(['sun', 'rain', 'snow']).toContain(parsed.weather);
  });

  it('a field this server cannot honour is a 400 naming it; a bad value is a 400 naming its Responses field', async () => {
    const conversation = badRequest(await client.responses.create({ model: MODEL, input: 'x', conversation: 'conv_1' }).catch((e: unknown) => e));
    expect(conversation.param).toBe('conversation');
    const builtIn = badRequest(await client.responses.create({ model: MODEL, input: 'x', tools: [{ type: 'web_search' }] }).catch((e: unknown) => e));
    expect(builtIn.param).toBe('tools[0].type');
    const tooMany = badRequest(await client.responses.create({ model: MODEL, input: 'x', max_output_tokens: 1_000_000 }).catch((e: unknown) => e));
    expect(tooMany.param).toBe('max_output_tokens');
    expect(tooMany.message).toContain('max_output_tokens');
  });

  it('feedback on the resp_ id is accepted (the gateway recorded the answer under it)', async () => {
    const r = await client.responses.create({ model: MODEL, input: 'Rate this answer.', max_output_tokens: 6, temperature: 0 });
    const res = await submitFeedbackWhenRecorded(stack, key, { feedbackId: `fb-${r.id}`, responseId: r.id, comment: 'good' });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { record: { feedback: { responseId: string } } }).record.feedback.responseId).toBe(r.id);
  });
});

const notFound = (err: unknown) => {
  expect(err).toBeInstanceOf(OpenAI.NotFoundError);
  return err as InstanceType<typeof OpenAI.NotFoundError>;
};

describe('official openai SDK: stored responses (store, previous_response_id, retrieve, delete)', () => {
  const greedy = { model: MODEL, max_output_tokens: 10, temperature: 0 };
  /** The answer a conversation sent whole gets (stored nowhere), to compare a chained turn with. */
  const whole = (input: OpenAI.Responses.ResponseInputItem[], extra: object = {}) => client.responses.create({ ...greedy, ...extra, input, store: false });

  it('a second turn by previous_response_id answers what the whole conversation in input answers; instructions are not inherited; retrieve equals the created response', async () => {
    const first = await client.responses.create({ ...greedy, instructions: INSTRUCTIONS, input: QUESTION });
    expect(first).toMatchObject({ store: true });
    const second = await client.responses.create({ ...greedy, previous_response_id: first.id, input: 'And the sky?' });
    expect(second).toMatchObject({ previous_response_id: first.id, store: true, instructions: null });
    const sent = await whole([{ role: 'user', content: QUESTION }, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { role: 'user', content: 'And the sky?' }]);
    expect(second.output_text).toBe(sent.output_text);
    expect(second.usage!.input_tokens).toBe(sent.usage!.input_tokens);
    expect(await client.responses.retrieve(first.id)).toEqual(first);
    expect(await client.responses.retrieve(second.id)).toEqual(second);
  });

  it('an image in the first turn is read back from the image store for the second', async () => {
    const png = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 200, g: 60, b: 30 } } }).png().toBuffer();
    const image: OpenAI.Responses.ResponseInputItem = { role: 'user', content: [{ type: 'input_image', image_url: `data:image/png;base64,${png.toString('base64')}`, detail: 'auto' }, { type: 'input_text', text: 'What is this?' }] };
    const first = await client.responses.create({ ...greedy, input: [image] });
    const second = await client.responses.create({ ...greedy, previous_response_id: first.id, input: 'Describe it again.' });
    const sent = await whole([image, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { role: 'user', content: 'Describe it again.' }]);
    expect(second.output_text).toBe(sent.output_text);
    expect(second.usage!.input_tokens).toBe(sent.usage!.input_tokens);
  });

  it("a function call's output continues the response that made the call", async () => {
    const question = { role: 'user' as const, content: 'Weather in Paris?' };
    const first = await client.responses.create({ model: MODEL, max_output_tokens: 32, input: [question], tools: [flatWeather], tool_choice: { type: 'function', name: 'get_weather' } });
    const call = first.output.find((i) => i.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error(`no function_call item: ${JSON.stringify(first.output)}`);
    const output: OpenAI.Responses.ResponseInputItem = { type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ temperature: 18, sky: 'sunny' }) };
    const second = await client.responses.create({ ...greedy, tools: [flatWeather], previous_response_id: first.id, input: [output] });
    const sent = await whole([question, ...(first.output as OpenAI.Responses.ResponseInputItem[]), output], { tools: [flatWeather] });
    expect(second.output_text).toBe(sent.output_text);
    expect(second.usage!.input_tokens).toBe(sent.usage!.input_tokens);
  });

  it("delete, then retrieve is a 404; store: false is never retrievable; another tenant's id is a 404", async () => {
    const r = await client.responses.create({ ...greedy, input: QUESTION });
    const other = new OpenAI({ apiKey: 'sk-e2e-responses-other', baseURL: `${stack.httpUrl}/v1`, maxRetries: 0 });
    expect(notFound(await other.responses.retrieve(r.id).catch((e: unknown) => e)).status).toBe(404);
    expect(notFound(await other.responses.create({ ...greedy, previous_response_id: r.id, input: 'x' }).catch((e: unknown) => e)).param).toBe('previous_response_id');
    expect(await client.responses.delete(r.id)).toEqual({ id: r.id, object: 'response.deleted', deleted: true });
    expect(notFound(await client.responses.retrieve(r.id).catch((e: unknown) => e)).param).toBe('response_id');
    const unstored = await client.responses.create({ ...greedy, input: QUESTION, store: false });
    expect(unstored).toMatchObject({ store: false });
    notFound(await client.responses.retrieve(unstored.id).catch((e: unknown) => e));
  });
});
