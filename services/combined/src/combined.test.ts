/**
 * The combined process against a real nats-server with the tiny generated model: slicer, resampler
 * and decoder in one process, each logged in as its own NATS user (the stack's authenticated bus),
 * behind a standalone gateway that knows nothing of the combination. A chat about an image goes
 * through all three stages of the one process.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { checkGrpcHealth, REPO_ROOT, startLocalStack, type RunningStack } from '@tessera/local-stack';
import { ensureTinyModel } from '@tessera/model';
import { READY_PREFIX } from '@tessera/runtime';
import { spawnTs, type SpawnedProcess } from '@tessera/testing';
import { STAGE_NAMES, stagePrefix } from './stage-env.js';

const KEY = 'sk-combined-test';
let stack: RunningStack;
let combined: SpawnedProcess;
let ready: { service: string; stages: Record<string, { grpcPort: number }>; metricsPort: number };
let ensureTinyModelDir: string;

beforeAll(async () => {
  const modelDir = await ensureTinyModel();
  ensureTinyModelDir = modelDir;
  const workDir = mkdtempSync(join(tmpdir(), 'tessera-combined-'));
  const keysFile = join(workDir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify({ keys: [{ id: 'k', tenant: 'acme', sha256: createHash('sha256').update(KEY).digest('hex') }] }));
  // Only the gateway as its own process: the GPU stages come from the combined process below.
  stack = await startLocalStack({ modelDir, workDir, services: ['gateway'], serviceEnv: { gateway: { TESSERA_GATEWAY_API_KEYS_FILE: keysFile } } });
  const perStage: Record<string, string> = {};
  for (const stage of STAGE_NAMES) {
    const login = stack.natsLogins![stage];
    Object.assign(perStage, { [`${stagePrefix(stage)}NATS_USER`]: login.user, [`${stagePrefix(stage)}NATS_PASSWORD`]: login.pass, [`${stagePrefix(stage)}TESSERA_GRPC_PORT`]: '0' });
  }
  combined = await spawnTs(join(REPO_ROOT, 'services', 'combined', 'src', 'main.ts'), {
    env: {
      NATS_URL: stack.natsUrl,
      TESSERA_SERVICE_TOKEN: stack.serviceToken,
      TESSERA_MODEL_DIR: modelDir,
      TESSERA_METRICS_PORT: '0',
      TESSERA_INTRA_OP_THREADS: '1',
      // What the image's environment would hand a standalone stage: the combined process must not pass it on.
      OTEL_SERVICE_NAME: 'combined',
      TESSERA_GRPC_PORT: '1',
      NATS_USER: 'nobody',
      ...perStage,
    },
    readyPattern: /^tessera-ready \{"service":"combined"/,
    readyTimeoutMs: 240_000,
  });
  const line = await combined.waitForLine(/^tessera-ready \{"service":"combined"/);
  ready = JSON.parse(line.slice(READY_PREFIX.length));
}, 420_000);

afterAll(async () => {
  await combined?.terminate();
  await stack?.stop();
});

async function png(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + ((i / 3 / width) | 0)) & 0xff;
  return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

const chat = (body: Record<string, unknown>): Promise<Response> =>
  fetch(`${stack.httpUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'minicpm-v-2_6', ...body }),
  });

/** Server-side calls answered OK whose method label contains `method`, from a /metrics text. */
const served = (metricsText: string, method: string): number =>
  metricsText
    .split('\n')
    .filter((l) => l.startsWith('tessera_rpc_server_duration_seconds_count') && l.includes(method) && l.includes('code="OK"'))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);

describe('slicer + resampler + decoder in one process', () => {
  it('each stage serves gRPC health on its own port and the process reports one /metrics port', async () => {
    expect(Object.keys(ready.stages)).toEqual(['slicer', 'resampler', 'decoder']);
    const ports = Object.values(ready.stages).map((s) => s.grpcPort);
    expect(new Set(ports).size).toBe(3);
    for (const p of ports) expect(await checkGrpcHealth(`127.0.0.1:${p}`, 2_000)).toBe('SERVING');
    expect(ready.metricsPort).toBeGreaterThan(0);
  });

  it('serves a chat about an image through the standalone gateway', async () => {
    const res = await chat({
      max_tokens: 6,
      seed: 1,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${(await png(448, 448)).toString('base64')}` } }, { type: 'text', text: 'What is this?' }] }],
    });
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    // 448×448: one slice, 64 visual tokens from the resampler.
    expect(body.usage.prompt_tokens_details.image_tokens).toBe(64);
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    expect(body.choices[0].message.content.length).toBeGreaterThan(0);

    // One registry for the process: each stage's server-side calls are on the one endpoint.
    const text = await (await fetch(`http://127.0.0.1:${ready.metricsPort}/metrics`)).text();
    expect(served(text, 'SlicerService')).toBeGreaterThan(0);
    expect(served(text, 'ResamplerService')).toBeGreaterThan(0);
    expect(served(text, 'DecoderService')).toBeGreaterThan(0);
  });

  it('shares the decoder queue group with a standalone decoder: each request is served once, by one of them', async () => {
    const login = stack.natsLogins!.decoder;
    const standalone = await spawnTs(join(REPO_ROOT, 'services', 'decoder', 'src', 'main.ts'), {
      env: { NATS_URL: stack.natsUrl, NATS_USER: login.user, NATS_PASSWORD: login.pass, TESSERA_SERVICE_TOKEN: stack.serviceToken, TESSERA_MODEL_DIR: ensureTinyModelDir, TESSERA_GRPC_PORT: '0', TESSERA_METRICS_PORT: '0', TESSERA_INTRA_OP_THREADS: '1' },
      readyPattern: /^tessera-ready /,
      readyTimeoutMs: 240_000,
    });
    try {
      const standaloneMetrics = JSON.parse((await standalone.waitForLine(/^tessera-ready /)).slice(READY_PREFIX.length)).metricsPort as number;
      const generated = async (port: number) => served(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), 'DecoderService/Generate');
      const before = await generated(ready.metricsPort);
      const n = 16;
      const answers = await Promise.all(Array.from({ length: n }, (_, i) => chat({ max_tokens: 2, seed: i, messages: [{ role: 'user', content: `hello ${i}` }] })));
      for (const a of answers) expect(a.status).toBe(200);
      const combinedCalls = (await generated(ready.metricsPort)) - before;
      const standaloneCalls = await generated(standaloneMetrics);
      // A combined decoder in another queue group would receive every request a second time.
      expect(combinedCalls + standaloneCalls).toBe(n);
      // Random queue-group delivery: all 16 on one side has probability 2 × 2^-16.
      expect(standaloneCalls).toBeGreaterThan(0);
      expect(combinedCalls).toBeGreaterThan(0);
    } finally {
      await standalone.terminate();
    }
  }, 300_000);

  it('SIGTERM drains every stage and exits 0', async () => {
    expect(await combined.terminate(30_000)).toBe(0);
    expect(combined.lines.filter((l) => l.includes('"msg":"stopped"')).map((l) => JSON.parse(l).service).sort()).toEqual(['decoder', 'resampler', 'slicer']);
  });
});
