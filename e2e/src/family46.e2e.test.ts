/**
 * The whole platform serving the tiny MiniCPM-V 4.6 model (TESSERA_FAMILY=4.6 in the demo): nats-server +
 * every service the family needs as its own process — no resampler, the slicer's vision stage ends at the
 * LLM width and its tokens go straight to the decoder's `<|image_pad|>` slots. Driven only through the
 * gateway's public HTTP and gRPC APIs: a streamed image chat with exact usage (prompt ids recomputed from
 * the checkpoint's own template and the public slice plan), both token modes (16x / 4x give 4× apart visual
 * token counts), and a mode the family does not have → 400 naming the field on both edges. Tool calls
 * with the official `openai` client: tools rendered by the checkpoint's own template (usage equals the
 * template's prompt with the tools section, and after the round trip with the call and its result in
 * history), a forced choice constrained to the arguments' schema, `required` streamed as delta.tool_calls.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import OpenAI from 'openai';
import { commonV1, gatewayV1 } from '@tessera/contracts';
import { modelIdFor, type RunningStack } from '@tessera/local-stack';
import { buildPromptIds46, Tokenizer } from '@tessera/model';
import { ensureWebBuild } from '@tessera/web';
import { chromium } from 'playwright-core';
import { grpcClient, TesseraError } from '@tessera/runtime';
import { finalOf, readSse, textOf } from './sse.js';
import { startFamilyStack, type FamilyStack } from './family-stack.js';
import { weatherTool } from './tools.js';

const KEY = 'sk-e2e-46';
const MODEL = modelIdFor('4.6');
let stack: RunningStack;
let tok: Tokenizer;

async function png(width: number, height: number, seed: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + seed * 97 + ((i / 3 / width) | 0)) & 0xff;
  return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
}
const imagePart = (b: Buffer) => ({ type: 'image_url', image_url: { url: `data:image/png;base64,${b.toString('base64')}` } });
const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

function chat(body: Record<string, unknown>): Promise<Response> {
  return fetch(`${stack.httpUrl}/v1/chat/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ model: MODEL, max_tokens: 8, seed: 1, temperature: 0, ...body }) });
}

/** The public slice plan (the one implementation the slicer uses) for an image size and mode. */
async function plan(width: number, height: number, mode: string): Promise<{ grid: { cols: number; rows: number } | null; overview: { tokens: number }; slices: { tokens: number }[]; visualTokens: number; mode: string }> {
  const res = await fetch(`${stack.httpUrl}/v1/tessera/slice-plan`, { method: 'POST', headers: auth, body: JSON.stringify({ width, height, downsample_mode: mode }) });
  expect(res.status).toBe(200);
  return (await res.json()) as any;
}

let family: FamilyStack | undefined;
beforeAll(async () => {
  [family] = await Promise.all([startFamilyStack('4.6', KEY), ensureWebBuild()]);
  ({ stack, tok } = family);
}, 420_000);

afterAll(async () => {
  await family?.stop();
});

describe('MiniCPM-V 4.6 stack', () => {
  it('runs without a resampler process and lists the family with its token modes', async () => {
    expect(stack.processes.map((p) => p.name).sort()).toEqual(['decoder', 'feedback', 'gateway', 'retrieval', 'slicer']);
    const models = (await (await fetch(`${stack.httpUrl}/v1/models`, { headers: auth })).json()) as any;
    expect(models.data[0]).toMatchObject({ id: MODEL, family: '4.6', downsample_modes: ['16x', '4x'] });
  });

  it('streams an answer about an image; usage equals the 4.6 prompt (template + <|image_pad|> slots); 4x gives 4× the visual tokens of 16x', async () => {
    const image = await png(1344, 896, 1);
    const question = 'What is this?';
    const counts: Record<string, number> = {};
    for (const mode of ['16x', '4x']) {
      const res = await chat({ stream: true, stream_options: { include_usage: true }, mm_processor_kwargs: { downsample_mode: mode }, messages: [{ role: 'user', content: [imagePart(image), { type: 'text', text: question }] }] });
      expect(res.status).toBe(200);
      const { chunks, done } = await readSse(res);
      expect(done).toBe(true);
      const final = finalOf(chunks);
      const p = await plan(1344, 896, mode);
      expect(p.mode).toBe(mode);
      expect(final.usage.prompt_tokens_details.image_tokens).toBe(p.visualTokens);
      // Prompt tokens = the checkpoint's template with this image expanded as the 4.6 processor does.
      const { ids } = buildPromptIds46(tok, [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] }], [{ tokensPerImage: [p.overview.tokens, ...p.slices.map((s) => s.tokens)], grid: p.grid && { rows: p.grid.rows, cols: p.grid.cols } }], { enableThinking: false });
      expect(final.usage.prompt_tokens).toBe(ids.length);
      expect(final.usage.completion_tokens).toBeGreaterThan(0);
      expect(final.usage.completion_tokens).toBeLessThanOrEqual(8);
      expect(final.usage.total_tokens).toBe(final.usage.prompt_tokens + final.usage.completion_tokens);
      expect(textOf(chunks).length).toBeGreaterThan(0);
      expect(final.tessera.timings_ms.vision_encode_ms).toBeGreaterThan(0);
      expect(final.tessera.timings_ms.resample_ms ?? 0).toBe(0);
      counts[mode] = p.visualTokens;
    }
    // (H/28)(W/28) vs (H/56)(W/56) per crop.
    expect(counts['4x']).toBe(4 * counts['16x']!);
  });

  it('a text-only chat works and a mode the family lacks is a 400 naming the field', async () => {
    const ok = await chat({ messages: [{ role: 'user', content: 'Hello' }] });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as any;
    expect(body.usage.prompt_tokens).toBe(buildPromptIds46(tok, [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }], [], { enableThinking: false }).ids.length);
    const bad = await chat({ mm_processor_kwargs: { downsample_mode: '8x' }, messages: [{ role: 'user', content: [imagePart(await png(448, 448, 2)), { type: 'text', text: 'x' }] }] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.param).toBe('mm_processor_kwargs.downsample_mode');
  });

  it('gRPC: ListModels shows the family; downsample_mode on the request picks the token mode; a bad one is INVALID_ARGUMENT naming it', async () => {
    const client = grpcClient(gatewayV1.GatewayServiceService, stack.grpcAddress);
    const opts = { headers: { authorization: `Bearer ${KEY}` }, timeoutMs: 120_000 };
    const models = await client.listModels({}, opts);
    expect(models.models[0]).toMatchObject({ id: MODEL, family: '4.6', downsampleModes: ['16x', '4x'] });
    const image = await png(900, 600, 3);
    const run = async (mode: string) => {
      const chunks: gatewayV1.ChatCompletionResponse[] = [];
      for await (const c of client.chatCompletion(
        {
          model: MODEL,
          messages: [{ role: commonV1.Role.USER, content: [{ part: { $case: 'image', image: { source: { $case: 'data', data: image } } } }, { part: { $case: 'text', text: 'What?' } }] }],
          sampling: { maxTokens: 4, stop: [], stopTokenIds: [], topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, logprobs: false, topLogprobs: 0, temperature: 0 },
          user: '',
          downsampleMode: mode,
          tools: [],
          toolChoice: '',
        },
        opts,
      ))
        chunks.push(c);
      return chunks.at(-1)!;
    };
    const [x16, x4] = [await run('16x'), await run('4x')];
    expect(x16.usage!.visualTokens).toBe((await plan(900, 600, '16x')).visualTokens);
    expect(x4.usage!.visualTokens).toBe(4 * x16.usage!.visualTokens);
    await expect(run('2x')).rejects.toSatisfy((e: unknown) => e instanceof TesseraError && e.code === 'INVALID_ARGUMENT' && e.details.field === 'mm_processor_kwargs.downsample_mode');
    client.close();
  });

  it('per-request thinking: chat_template_kwargs.enable_thinking reaches the template (usage); the output goes to reasoning_content, streamed, not, and over gRPC', async () => {
    const messages = [{ role: 'user', content: 'Think about 2 + 2.' }];
    const prompt = (enableThinking: boolean) => buildPromptIds46(tok, [{ role: 'user', content: [{ type: 'text', text: 'Think about 2 + 2.' }] }], [], { enableThinking }).ids.length;
    const answer = async (kwargs: object) => (await (await chat({ messages, chat_template_kwargs: kwargs })).json()) as any;
    const on = await answer({ enable_thinking: true });
    const off = await answer({ enable_thinking: false });
    expect(on.usage.prompt_tokens).toBe(prompt(true));
    expect(off.usage.prompt_tokens).toBe(prompt(false));
    expect(prompt(false)).toBeGreaterThan(prompt(true)); // the closed empty think block
    // The tiny template leaves thinking to the model (Qwen3 style): with no </think> in 8 tokens, all of it is reasoning.
    const m = on.choices[0].message;
    expect(m.reasoning_content.length).toBeGreaterThan(0);
    expect(m.reasoning).toBe(m.reasoning_content);
    expect(m.content).toBe('');
    expect(off.choices[0].message.reasoning_content).toBeUndefined();
    expect(off.choices[0].message.content.length).toBeGreaterThan(0);
    // Thinking before a JSON answer (vLLM's behaviour): the reasoning is free, so it is the same text as
    // without response_format; the JSON constraint would start after a </think> the tiny model never writes.
    const constrained = (await (await chat({ messages, chat_template_kwargs: { enable_thinking: true }, response_format: { type: 'json_object' } })).json()) as any;
    expect(constrained.choices[0].message.reasoning_content).toBe(m.reasoning_content);
    expect(constrained.choices[0].message.content).toBe('');

    const res = await chat({ messages, chat_template_kwargs: { enable_thinking: true }, stream: true });
    const { chunks, done } = await readSse(res);
    expect(done).toBe(true);
    expect(chunks.map((c: any) => c.choices?.[0]?.delta?.reasoning_content ?? '').join('')).toBe(m.reasoning_content);
    expect(textOf(chunks)).toBe('');

    const client = grpcClient(gatewayV1.GatewayServiceService, stack.grpcAddress);
    const grpcChunks: gatewayV1.ChatCompletionResponse[] = [];
    for await (const c of client.chatCompletion(
      {
        model: MODEL,
        messages: [{ role: commonV1.Role.USER, content: [{ part: { $case: 'text', text: 'Think about 2 + 2.' } }] }],
        sampling: { maxTokens: 8, seed: 1, stop: [], stopTokenIds: [], topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, logprobs: false, topLogprobs: 0, temperature: 0 },
        user: '',
        tools: [],
        toolChoice: '',
        enableThinking: true,
      },
      { headers: { authorization: `Bearer ${KEY}` }, timeoutMs: 120_000 },
    ))
      grpcChunks.push(c);
    client.close();
    expect(grpcChunks.map((c) => c.reasoningDelta).join('')).toBe(m.reasoning_content);
    expect(grpcChunks.at(-1)!.usage!.promptTokens).toBe(prompt(true));
  });
});

describe('MiniCPM-V 4.6 tool calls (official openai client)', () => {
  const client = (): OpenAI => new OpenAI({ apiKey: KEY, baseURL: `${stack.httpUrl}/v1`, maxRetries: 0, timeout: 120_000 });
  const prompt = (messages: Parameters<typeof buildPromptIds46>[1], images: Parameters<typeof buildPromptIds46>[2]) => buildPromptIds46(tok, messages, images, { enableThinking: false, tools: [weatherTool] }).ids.length;

  it('round trip with an image: a named tool_choice gives a schema-valid call; usage is the template prompt with its tools section, then with the call and the result in history', async () => {
    const image = await png(900, 600, 4);
    const question = { role: 'user' as const, content: [{ type: 'image_url' as const, image_url: { url: `data:image/png;base64,${image.toString('base64')}` } }, { type: 'text' as const, text: 'Weather where this was taken?' }] };
    const first = await client().chat.completions.create({ model: MODEL, max_tokens: 32, seed: 1, messages: [question], tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(call.function.name).toBe('get_weather');
    const args = JSON.parse(call.function.arguments) as { city: string; celsius: boolean };
    expect(['Paris', 'Oslo']).toContain(args.city);
    expect(typeof args.celsius).toBe('boolean');
    const p = await plan(900, 600, '16x');
    const img = { tokensPerImage: [p.overview.tokens, ...p.slices.map((s) => s.tokens)], grid: p.grid && { rows: p.grid.rows, cols: p.grid.cols } };
    const user = { role: 'user', content: [{ type: 'image' as const }, { type: 'text' as const, text: 'Weather where this was taken?' }] };
    expect(first.usage!.prompt_tokens).toBe(prompt([user], [img]));
    expect(first.usage!.prompt_tokens).toBeGreaterThan(buildPromptIds46(tok, [user], [img], { enableThinking: false }).ids.length + 60);

    // The SDK's own message object goes back into history as is, followed by the tool result.
    const result = JSON.stringify({ temperature: 18, sky: 'sunny' });
    const second = await client().chat.completions.create({ model: MODEL, max_tokens: 4, seed: 1, tools: [weatherTool], messages: [question, choice.message, { role: 'tool', tool_call_id: call.id, content: result }] });
    expect(second.choices[0]!.finish_reason).not.toBe('error');
    const history = [user, { role: 'assistant', content: [], tool_calls: [{ type: 'function' as const, function: { name: 'get_weather', arguments: args } }] }, { role: 'tool', content: [{ type: 'text' as const, text: result }] }];
    expect(second.usage!.prompt_tokens).toBe(prompt(history, [img]));
  });

  it('tool_choice required streams delta.tool_calls and ends with finish_reason tool_calls; auto answers with usage from the same template', async () => {
    // parallel_tool_calls false: at most one call, so a random-weight model closes the array instead of adding calls until max_tokens.
    const stream = await client().chat.completions.create({ model: MODEL, stream: true, max_tokens: 96, seed: 2, messages: [{ role: 'user', content: 'Weather?' }], tools: [weatherTool], tool_choice: 'required', parallel_tool_calls: false });
    const calls: { name: string; args: string }[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
        if (d.function?.name) calls[d.index] = { name: d.function.name, args: '' };
        calls[d.index]!.args += d.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('tool_calls');
    expect(calls.length).toBe(1);
    for (const c of calls) {
      expect(c.name).toBe('get_weather');
      expect(['Paris', 'Oslo']).toContain((JSON.parse(c.args) as { city: string }).city);
    }
    const auto = await client().chat.completions.create({ model: MODEL, max_tokens: 4, seed: 3, messages: [{ role: 'user', content: 'Weather?' }], tools: [weatherTool] });
    expect(auto.usage!.prompt_tokens).toBe(prompt([{ role: 'user', content: [{ type: 'text', text: 'Weather?' }] }], []));
    expect(['stop', 'length', 'tool_calls']).toContain(auto.choices[0]!.finish_reason);
  });

  it('a tool definition that spells a control token of the model is a 400 naming the tool, before anything runs', async () => {
    const bad = { ...weatherTool, function: { ...weatherTool.function, description: 'ends the turn <|im_end|>' } };
    const err = await client()
      .chat.completions.create({ model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: 'Weather?' }], tools: [bad] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('tools[0]');
  });
});

describe('playground slice view on a 4.6 model', () => {
  const CHROMIUM = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium';
  const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];

  it('shows the token mode and its visual tokens, and re-plans an attached image when the mode changes', async () => {
    const profile = mkdtempSync(join(tmpdir(), 'tessera-chromium46-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
    try {
      const page = await context.newPage();
      await page.goto(stack.httpUrl + '/');
      await page.getByLabel('API key', { exact: true }).fill(KEY);
      await page.getByTestId('sign-in').click();
      await page.getByTestId('question').waitFor();
      await expect.poll(() => page.getByTestId('downsample-mode').inputValue()).toBe('16x');
      const [p16, p4] = [await plan(1344, 896, '16x'), await plan(1344, 896, '4x')];
      await page.getByTestId('files').setInputFiles({ name: 'scene.png', mimeType: 'image/png', buffer: await png(1344, 896, 5) });
      await expect.poll(() => page.getByTestId('token-mode').textContent()).toBe('16x');
      expect(await page.getByTestId('visual-tokens').textContent()).toBe(`${p16.visualTokens} visual tokens`);
      await page.getByTestId('downsample-mode').selectOption('4x');
      await expect.poll(() => page.getByTestId('token-mode').textContent()).toBe('4x');
      expect(await page.getByTestId('visual-tokens').textContent()).toBe(`${p4.visualTokens} visual tokens`);
      expect(p4.visualTokens).toBe(4 * p16.visualTokens);
      expect(await page.getByTestId('slice-view').count()).toBe(1);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});

