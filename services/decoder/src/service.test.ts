/**
 * DecoderService over both transports (real nats-server, real gRPC server, real ORT tiny model):
 * streaming chunks, images scattered into placeholders, Cancel frees KV, bad input names its field,
 * a bad request does not disturb a running one, vLLM-compatible metrics are exported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonV1, decodingV1, tensorFromArray } from '@tessera/contracts';
import { GrpcServer, TesseraError, bindNats, grpcClient, natsClient, type NatsBinding, type ServiceClient } from '@tessera/runtime';
import { metrics, parseExposition } from '@tessera/telemetry';
import { withNats } from '@tessera/testing/vitest';
import { decoderSchema } from './config.js';
import { createDecoderApp, type DecoderApp } from './compose.js';
import { decoderService, siteGenerate } from './service.js';
import { loadConfig } from '@tessera/config';

type Client = ServiceClient<typeof decodingV1.DecoderServiceService>;
const Def = decodingV1.DecoderServiceService;

const bus = withNats();
let app: DecoderApp;
let binding: NatsBinding;
let grpc: GrpcServer;
let viaNats: Client;
let viaGrpc: Client;

beforeAll(async () => {
  const cfg = loadConfig(decoderSchema, { TESSERA_DECODER_MAX_BATCH: '4', TESSERA_DECODER_MAX_TOKENS_LIMIT: '64', TESSERA_DECODER_MAX_CONTEXT: '2048' });
  app = await createDecoderApp(cfg);
  const impl = decoderService(app.deps(bus.nc));
  binding = await bindNats(bus.nc, Def, impl, { serviceName: 'decoder' });
  grpc = new GrpcServer({ host: '127.0.0.1', port: 0 });
  grpc.add(Def, impl);
  const port = await grpc.start();
  viaNats = natsClient(bus.nc, Def);
  viaGrpc = grpcClient(Def, `127.0.0.1:${port}`);
});

afterAll(async () => {
  viaGrpc?.close();
  await grpc?.shutdown(500);
  await binding?.stop(500);
  await app?.close();
});

const sampling = (o: Partial<commonV1.SamplingParams> = {}): commonV1.SamplingParams => ({ temperature: 0, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, stop: [], stopTokenIds: [], logprobs: false, topLogprobs: 0, maxTokens: 6, ...o });
const request = (o: Partial<decodingV1.GenerateRequest> = {}): decodingV1.GenerateRequest => ({
  requestId: '', messages: [{ role: commonV1.Role.USER, parts: [{ part: { $case: 'text', text: 'Describe the image.' } }] }], prompt: [], images: [], sampling: sampling(), modelRevision: '', tools: [], toolChoice: '', ...o,
});

async function run(client: Client, req: decodingV1.GenerateRequest, tenant = 't1'): Promise<decodingV1.GenerateResponse[]> {
  const out: decodingV1.GenerateResponse[] = [];
  for await (const c of client.generate(req, { tenant })) out.push(c);
  return out;
}

async function failure(p: Promise<unknown>, what = ''): Promise<TesseraError> {
  try { await p; } catch (e) { return e as TesseraError; }
  throw new Error(`expected a failure: ${what}`);
}

describe('DecoderService over NATS and gRPC', () => {
  it('streams the same greedy completion over both transports, with usage, timings and seed', async () => {
    const a = await run(viaNats, request());
    const b = await run(viaGrpc, request());
    const ids = (cs: decodingV1.GenerateResponse[]) => cs.flatMap((c) => c.tokenIds);
    expect(ids(a)).toEqual(ids(b));
    expect(ids(a).length).toBeGreaterThan(0);
    const last = a[a.length - 1]!;
    expect([commonV1.FinishReason.LENGTH, commonV1.FinishReason.STOP]).toContain(last.finishReason);
    expect(last.usage?.completionTokens).toBe(ids(a).length);
    expect(last.usage?.promptTokens).toBeGreaterThan(10);
    expect(last.timings?.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(last.seed).toBeTypeOf('number');
    expect(a[0]!.modelRevision).toBe(app.loaded.revision);
    // 2.6's template has no thinking: enable_thinking is ignored (as vLLM ignores kwargs a template does not use).
    const thinking = await run(viaNats, request({ enableThinking: true }));
    expect(ids(thinking)).toEqual(ids(a));
    expect(thinking[0]!.reasoning).toBe(false);
    expect(thinking[thinking.length - 1]!.usage?.promptTokens).toBe(last.usage?.promptTokens);
    expect(a.slice(0, -1).every((c) => c.finishReason === commonV1.FinishReason.UNSPECIFIED)).toBe(true);
    expect(a.some((c) => c.logprobs.length > 0)).toBe(false);
  });

  it('sampling.confidence: one raw logprob per token, no alternatives, the same tokens; with logprobs, logprobs as asked', async () => {
    const plain = await run(viaNats, request({ sampling: sampling({ temperature: 0.7, seed: 11, repetitionPenalty: 1.3 }) }));
    const conf = await run(viaGrpc, request({ sampling: sampling({ temperature: 0.7, seed: 11, repetitionPenalty: 1.3, confidence: true }) }));
    const ids = (cs: decodingV1.GenerateResponse[]) => cs.flatMap((c) => c.tokenIds);
    expect(ids(conf)).toEqual(ids(plain));
    for (const c of conf) {
      expect(c.logprobs.map((l) => l.tokenId)).toEqual(c.tokenIds);
      for (const l of c.logprobs) {
        expect(l.topLogprobs).toEqual([]);
        expect(l.logprob).toBeLessThanOrEqual(0);
        expect(l.token).toBeTypeOf('string');
      }
    }
    const both = await run(viaNats, request({ sampling: sampling({ temperature: 0.7, seed: 11, repetitionPenalty: 1.3, confidence: true, logprobs: true, topLogprobs: 2 }) }));
    const full = await run(viaNats, request({ sampling: sampling({ temperature: 0.7, seed: 11, repetitionPenalty: 1.3, logprobs: true, topLogprobs: 2 }) }));
    expect(both.map((c) => c.logprobs)).toEqual(full.map((c) => c.logprobs));
    expect(full.flatMap((c) => c.logprobs).every((l) => l.topLogprobs.length === 2)).toBe(true);
  });

  it('scatters visual tokens into the image placeholders (different images ⇒ different outputs)', async () => {
    const H = app.engine.info.hiddenSize;
    const Q = app.loaded.queryNum;
    const img = (v: number) => ({ visualTokens: tensorFromArray(Float32Array.from({ length: 3 * Q * H }, (_, i) => Math.sin(i * v) * 0.5), [3, Q, H]), gridCols: 2, gridRows: 1, useImageId: true, imageSha256: '' });
    const withImage = (v: number) => request({
      messages: [{ role: commonV1.Role.USER, parts: [{ part: { $case: 'image', image: { imageIndex: 0 } } }, { part: { $case: 'text', text: 'What is this?' } }] }],
      images: [img(v)],
      sampling: sampling({ maxTokens: 8 }),
    });
    const a = await run(viaNats, withImage(0.1));
    const b = await run(viaNats, withImage(0.7));
    const last = a[a.length - 1]!;
    expect(last.usage?.visualTokens).toBe(3 * Q);
    expect(a.flatMap((c) => c.tokenIds)).not.toEqual(b.flatMap((c) => c.tokenIds));
    // Shape disagreeing with the grid: named field, INVALID_ARGUMENT.
    const bad = withImage(0.1);
    bad.images[0]!.gridCols = 3;
    const err = await failure(run(viaGrpc, bad));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.details.field).toBe('images[0].visual_tokens');
  });

  it('Cancel stops a running generation, ends its stream CANCELLED and returns KV usage to zero', async () => {
    const req = request({ requestId: 'cancel-me', sampling: sampling({ maxTokens: 64, stopTokenIds: [], temperature: 1, seed: 5 }) });
    const chunks: decodingV1.GenerateResponse[] = [];
    let cancelled = false;
    for await (const c of viaNats.generate(req, { tenant: 't1' })) {
      chunks.push(c);
      if (!cancelled) {
        const stats = await viaGrpc.getEngineStats({}, { tenant: 't1' });
        expect(stats.kvCacheUsedTokens).toBeGreaterThan(0);
        expect((await viaGrpc.cancel({ requestId: 'cancel-me' }, { tenant: 'other' }).catch((e: TesseraError) => e.code))).toBe('PERMISSION_DENIED');
        expect((await viaGrpc.cancel({ requestId: 'cancel-me' }, { tenant: 't1' })).found).toBe(true);
        cancelled = true;
      }
    }
    const last = chunks[chunks.length - 1]!;
    if (last.finishReason !== commonV1.FinishReason.STOP) {
      expect(last.finishReason).toBe(commonV1.FinishReason.CANCELLED);
      expect(last.error?.code).toBe(commonV1.ErrorCode.CANCELLED);
    }
    const stats = await viaNats.getEngineStats({}, { tenant: 't1' });
    expect([stats.kvCacheUsedTokens, stats.numRunning, stats.numWaiting]).toEqual([0, 0, 0]);
    expect((await viaGrpc.cancel({ requestId: 'cancel-me' }, { tenant: 't1' })).found).toBe(false);
  });

  it('a client that stops reading a NATS stream cancels the sequence on the server', async () => {
    const cancelledCount = async (): Promise<number> => {
      const line = (await metrics().text()).split('\n').find((l) => l.startsWith('tessera_decoder_requests_finished_total') && l.includes('finished_reason="cancelled"'));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const before = await cancelledCount();
    let n = 0;
    for await (const c of viaNats.generate(request({ requestId: 'walk-away', sampling: sampling({ maxTokens: 64, temperature: 1, seed: 9 }) }), { tenant: 't1' })) {
      n += c.tokenIds.length;
      if (n >= 2) break;
    }
    for (let i = 0; i < 100 && (await viaGrpc.getEngineStats({}, { tenant: 't1' })).numRunning > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await viaGrpc.getEngineStats({}, { tenant: 't1' })).kvCacheUsedTokens).toBe(0);
    expect(await cancelledCount()).toBe(before + 1);
  });

  it('refuses bad input with INVALID_ARGUMENT naming the field while another stream keeps going', async () => {
    const running = run(viaNats, request({ sampling: sampling({ maxTokens: 24 }) }));
    const cases: [decodingV1.GenerateRequest, string][] = [
      [request({ sampling: sampling({ maxTokens: 0 }) }), 'max_tokens'],
      [request({ sampling: sampling({ maxTokens: 65 }) }), 'max_tokens'],
      [request({ sampling: sampling({ temperature: -1 }) }), 'temperature'],
      [request({ sampling: sampling({ topP: 0 }) }), 'top_p'],
      [request({ sampling: sampling({ topP: 1.01 }) }), 'top_p'],
      [request({ messages: [{ role: commonV1.Role.USER, parts: [{ part: { $case: 'text', text: 'word '.repeat(2100) } }] }] }), 'prompt'],
      [request({ messages: [{ role: commonV1.Role.USER, parts: [{ part: { $case: 'image', image: { imageIndex: 2 } } }] }] }), 'messages[0].parts[0].image.image_index'],
      [request({ prompt: [{ part: { $case: 'text', text: 'both' } }] }), 'messages'],
      [request({ continueFinalMessage: true, addGenerationPrompt: true }), 'continue_final_message'],
      [request({ promptTokenIds: { ids: [1, 2] } }), 'prompt_token_ids'],
      [request({ messages: [], promptTokenIds: { ids: [1, 10_000_000] } }), 'prompt_token_ids[1]'],
      [request({ continueFinalMessage: true, messages: [{ role: commonV1.Role.ASSISTANT, parts: [{ part: { $case: 'text', text: '  ' } }] }] }), 'continue_final_message'],
    ];
    for (const [req, field] of cases) {
      const err = await failure(run(viaGrpc, req), field);
      expect(err.code, field).toBe('INVALID_ARGUMENT');
      expect(err.details.field, field).toBe(field);
    }
    const ok = await running;
    expect(ok[ok.length - 1]!.finishReason).not.toBe(commonV1.FinishReason.ERROR);
    expect(ok.flatMap((c) => c.tokenIds).length).toBeGreaterThan(0);
  });

  it('exports vLLM scheduler gauges, engine-level timings under its own names, and GenAI metrics', async () => {
    const families = parseExposition(await metrics().text());
    for (const name of ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'tessera_decoder_time_to_first_token_seconds', 'tessera_decoder_inter_token_latency_seconds', 'tessera_decoder_prompt_tokens_total', 'tessera_decoder_generation_tokens_total', 'tessera_decoder_requests_finished_total', 'gen_ai_server_time_to_first_token_seconds', 'gen_ai_client_token_usage']) {
      expect(families.has(name), name).toBe(true);
    }
    // The user-facing request-level vLLM series belong to the gateway (vision included); never both.
    for (const name of ['vllm:time_to_first_token_seconds', 'vllm:e2e_request_latency_seconds', 'vllm:request_success_total']) expect(families.has(name), name).toBe(false);
  });
});

describe('Generate through the TESSERA_DECODER work queue (TESSERA_DECODER_WORK_QUEUE, as the chart deploys it)', () => {
  it('streams the same seeded tokens as request/reply, with its end marker', async () => {
    const req = request({ sampling: sampling({ temperature: 0.7, seed: 1234, maxTokens: 8 }) });
    // Before the work-queue binding joins the queue group: it refuses Generate over request/reply.
    const direct = await run(viaNats, req);
    const queued = await bindNats(bus.nc, Def, decoderService(app.deps(bus.nc)), { serviceName: 'decoder', workQueue: { stage: 'decoder', methods: ['generate'], concurrency: 4 } });
    try {
      const viaQueue = natsClient(bus.nc, Def, { workQueue: { stage: 'decoder', methods: ['generate'] } });
      const fromQueue = await run(viaQueue, req);
      const ids = (cs: decodingV1.GenerateResponse[]) => cs.flatMap((c) => c.tokenIds);
      expect(ids(fromQueue)).toEqual(ids(direct));
      expect(fromQueue.at(-1)!.finishReason).not.toBe(commonV1.FinishReason.UNSPECIFIED);
      viaQueue.close();
    } finally {
      await queued.stop(500);
    }
  });
});

describe("the hub decoder's site subjects (TESSERA_DECODER_SITE_ACCESS), as compose binds them", () => {
  it('serve Generate, text only, under the model revision: the same tokens; images refused naming the field; no other method', async () => {
    const impl = decoderService(app.deps(bus.nc));
    const namespace = `tessera.hubmodel.${app.loaded.revision}`;
    const site = await bindNats(bus.nc, { generate: Def.generate }, { generate: siteGenerate(impl.generate) }, { serviceName: 'decoder', namespace });
    const viaSite = natsClient(bus.nc, Def, { namespace });
    try {
      const req = request({ sampling: sampling({ temperature: 0.7, seed: 99, maxTokens: 6 }) });
      const ids = (cs: decodingV1.GenerateResponse[]) => cs.flatMap((c) => c.tokenIds);
      expect(ids(await run(viaSite, req))).toEqual(ids(await run(viaNats, req)));
      const H = app.engine.info.hiddenSize;
      const Q = app.loaded.queryNum;
      const withImage = request({
        messages: [{ role: commonV1.Role.USER, parts: [{ part: { $case: 'image', image: { imageIndex: 0 } } }, { part: { $case: 'text', text: 'What is this?' } }] }],
        images: [{ visualTokens: tensorFromArray(new Float32Array(Q * H), [1, Q, H]), gridCols: 0, gridRows: 0, useImageId: false, imageSha256: '' }],
      });
      const err = await failure(run(viaSite, withImage));
      expect([err.code, err.details.field]).toEqual(['PERMISSION_DENIED', 'images']);
      const stats = await viaSite.getEngineStats({}, { tenant: 'acme', timeoutMs: 5_000 }).catch((e: unknown) => e as TesseraError);
      expect((stats as TesseraError).code).toBe('UNIMPLEMENTED');
    } finally {
      viaSite.close();
      await site.stop(500);
    }
  });
});

