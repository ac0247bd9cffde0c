/**
 * The whole platform serving the tiny MiniCPM-V 4.6 model (TESSERA_FAMILY=4.6 in the demo): nats-server +
 * every service the family needs as its own process — no resampler, the slicer's vision stage ends at the
 * LLM width and its tokens go straight to the decoder's `<|image_pad|>` slots. Driven only through the
 * gateway's public HTTP and gRPC APIs: a streamed image chat with exact usage (prompt ids recomputed from
 * the checkpoint's own template and the public slice plan), both token modes (16x / 4x give 4× apart visual
 * token counts), and a mode the family does not have → 400 naming the field on both edges.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { commonV1, gatewayV1 } from '@tessera/contracts';
import { modelIdFor, startLocalStack, tinyModelFor, type RunningStack } from '@tessera/local-stack';
import { buildPromptIds46, Tokenizer } from '@tessera/model';
import { grpcClient, TesseraError } from '@tessera/runtime';
import { finalOf, readSse, textOf } from './sse.js';

const KEY = 'sk-e2e-46';
const MODEL = modelIdFor('4.6');
let stack: RunningStack;
let tok: Tokenizer;
let dir: string;

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

beforeAll(async () => {
  const modelDir = await tinyModelFor('4.6');
  tok = Tokenizer.fromDir(modelDir);
  dir = mkdtempSync(join(tmpdir(), 'tessera-e2e46-'));
  const keysFile = join(dir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify({ tenants: {}, keys: [{ id: 'k46', tenant: 't46', sha256: createHash('sha256').update(KEY).digest('hex') }] }));
  stack = await startLocalStack({
    modelDir,
    workDir: dir,
    env: { TESSERA_INTRA_OP_THREADS: '1' },
    serviceEnv: { gateway: { TESSERA_GATEWAY_API_KEYS_FILE: keysFile, TESSERA_GATEWAY_MODEL_ID: MODEL } },
  });
}, 420_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
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
});
