/**
 * bench/e2e — the whole stack as processes (tiny model by default), driven over the public HTTP API.
 *   1. TTFT p50/p99 and aggregate tokens/s at 1, 4 and 16 concurrent clients;
 *   2. the cost of the bus: a chat with a cached image and max_tokens 1 through the gateway vs the
 *      same GenerateRequest on the decoder engine in this process (no NATS, no HTTP), as a ratio;
 *   3. bytes over NATS per image request (a wildcard subscriber attributes object-store chunks to
 *      their bucket) and TTFT on an encoder-cache miss vs a hit. Run it on two commits to compare
 *      code paths (docs/decisions.md, issue 14: the visual tokens cross the bus 2× instead of 4×).
 * Usage: npx tsx bench/e2e/main.ts [--model DIR] [--requests N] [--section all|bytes]
 */
import os from 'node:os';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { connect } from 'nats';
import { commonV1, decodingV1, SERVICES } from '@tessera/contracts';
import { startLocalStack, writeApiKeysFile } from '@tessera/local-stack';
import { ensureTinyModel, readManifest } from '@tessera/model';
import { localClient, sha256Hex } from '@tessera/runtime';
import { meterBus, readSse } from '@tessera/testing';
import { EncoderCache, planSlices } from '@tessera/vision';
import { createDecoderApp, decoderService, loadDecoderConfig } from '@tessera/decoder';

const { values } = parseArgs({ options: { model: { type: 'string' }, requests: { type: 'string', default: '8' }, section: { type: 'string', default: 'all' } } });
const run = (name: string) => values.section === 'all' || values.section === name;
const KEY = 'sk-bench';
const MODEL = 'minicpm-v-2_6';
const perClient = Number(values.requests);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

async function streamChat(url: string, body: object): Promise<{ ttftMs: number; tokens: number; totalMs: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, stream: true, stream_options: { include_usage: true }, ...body }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttft = NaN;
  let tokens = 0;
  await readSse(res, (c) => {
    if (Number.isNaN(ttft) && c.choices?.[0]?.delta?.content) ttft = performance.now() - t0;
    if (c.usage) tokens = c.usage.completion_tokens;
  });
  if (Number.isNaN(ttft)) ttft = performance.now() - t0;
  return { ttftMs: ttft, tokens, totalMs: performance.now() - t0 };
}

async function main(): Promise<void> {
  const modelDir = values.model ?? (await ensureTinyModel());
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-e2e-'));
  const keysFile = writeApiKeysFile(join(dir, 'keys.json'), [{ id: 'bench', tenant: 'bench', key: KEY }]);
  console.log('booting the stack…');
  const stack = await startLocalStack({
    modelDir,
    workDir: dir,
    serviceEnv: { gateway: { TESSERA_GATEWAY_API_KEYS_FILE: keysFile, TESSERA_GATEWAY_MODEL_ID: MODEL, TESSERA_GATEWAY_RECORD_RESPONSES: 'false' } },
  });
  try {
    const image = await sharp({ create: { width: 896, height: 672, channels: 3, background: { r: 90, g: 140, b: 200 } } }).png().toBuffer();
    const imageMsg = (text: string) => [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${image.toString('base64')}` } }, { type: 'text', text }] }];
    await streamChat(stack.httpUrl, { max_tokens: 4, messages: imageMsg('warm up') }); // fills the encoder cache

    if (run('bytes')) await busBytes(stack.natsUrl, stack.httpUrl, stack.natsLogin);
    if (values.section === 'bytes') return;

    console.log('\n## Concurrency (cached image + question, max_tokens 32, greedy)');
    console.log('| clients | requests | TTFT p50 ms | TTFT p99 ms | aggregate tokens/s | vs 1 client |');
    console.log('|---|---|---|---|---|---|');
    let base = 0;
    for (const clients of [1, 4, 16]) {
      const ttfts: number[] = [];
      let tokens = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          for (let r = 0; r < perClient; r++) {
            const out = await streamChat(stack.httpUrl, { max_tokens: 32, temperature: 0, messages: imageMsg(`client ${c} request ${r}`) });
            ttfts.push(out.ttftMs);
            tokens += out.tokens;
          }
        }),
      );
      const tps = tokens / ((performance.now() - t0) / 1000);
      if (clients === 1) base = tps;
      console.log(`| ${clients} | ${clients * perClient} | ${pct(ttfts, 50).toFixed(1)} | ${pct(ttfts, 99).toFixed(1)} | ${tps.toFixed(1)} | ${(tps / base).toFixed(2)}× |`);
    }

    console.log('\n## Cost of the bus (cached image, max_tokens 1): gateway over HTTP + NATS vs decoder engine in-process');
    const nc = await connect({ servers: stack.natsUrl, ...stack.natsLogin });
    const manifest = readManifest(modelDir);
    const cache = await EncoderCache.open(nc);
    const meta = await sharp(image).metadata();
    const entry = await cache.lookup({ modelRevision: manifest.revision, tenant: 'bench', imageSha256: sha256Hex(image), maxSliceNums: 9, scaleResolution: 448 });
    if (!entry) throw new Error('the warm-up image is not in the encoder cache');
    const tokens = Buffer.from((await cache.read(entry))!);
    const plan = planSlices(meta.width!, meta.height!);
    const app = await createDecoderApp({ ...loadDecoderConfig({ TESSERA_MODEL_DIR: modelDir }), modelDir });
    const local = localClient(SERVICES.decoder.definition, decoderService(app.deps(nc)));
    const request = (text: string): decodingV1.GenerateRequest => ({
      requestId: `bench-${text.replace(/[^A-Za-z0-9]/g, "-")}-${Math.random().toString(36).slice(2)}`,
      messages: [{ role: commonV1.Role.USER, parts: [{ part: { $case: 'image', image: { imageIndex: 0 } } }, { part: { $case: 'text', text } }] }],
      prompt: [],
      images: [{ visualTokens: { dtype: commonV1.Dtype.FLOAT32, shape: entry.shape, data: { $case: 'raw', raw: tokens } }, gridCols: plan.grid?.cols ?? 0, gridRows: plan.grid?.rows ?? 0, useImageId: true, imageSha256: '' }],
      sampling: { temperature: 0, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, stop: [], stopTokenIds: [], maxTokens: 1, logprobs: false, topLogprobs: 0, seed: 1 },
      modelRevision: manifest.revision,
      tools: [],
      toolChoice: '',
    });
    const viaGateway: number[] = [];
    const inProcess: number[] = [];
    for (let i = 0; i < 12; i++) {
      const text = `bus cost ${i}`;
      viaGateway.push((await streamChat(stack.httpUrl, { max_tokens: 1, temperature: 0, seed: 1, messages: imageMsg(text) })).ttftMs);
      const t0 = performance.now();
      for await (const chunk of local.generate(request(text), { tenant: 'bench' })) if (chunk.tokenIds.length) break;
      inProcess.push(performance.now() - t0);
    }
    const g = pct(viaGateway.slice(2), 50);
    const l = pct(inProcess.slice(2), 50);
    console.log('| path | TTFT p50 ms |\n|---|---|');
    console.log(`| decoder engine in-process (baseline) | ${l.toFixed(1)} |`);
    console.log(`| gateway HTTP → NATS → decoder | ${g.toFixed(1)} |`);
    console.log(`\nbus + gateway overhead: ${(g / l).toFixed(3)}× the in-process TTFT (+${(((g - l) / l) * 100).toFixed(1)} %, ${(g - l).toFixed(1)} ms)`);
    await app.close();
    await nc.close();
  } finally {
    await stack.stop();
  }
}

/** Section 3: bytes over NATS per image request by bucket, and TTFT, on cache misses then hits. */
async function busBytes(natsUrl: string, httpUrl: string, login?: { user: string; pass: string }): Promise<void> {
  const nc = await connect({ servers: natsUrl, ...login });
  const meter = await meterBus(nc);
  // Noisy pictures (real-photo-like PNG sizes) so every request of the miss round is a new image.
  const images = await Promise.all(
    Array.from({ length: 4 }, (_, k) => {
      const raw = Buffer.alloc(896 * 672 * 3);
      for (let i = 0; i < raw.length; i++) raw[i] = (Math.imul(i + 1, 2654435761 + k * 40503) >>> 24) & 0xff;
      return sharp(raw, { raw: { width: 896, height: 672, channels: 3 } }).png().toBuffer();
    }),
  );
  const rows: string[] = [];
  for (const round of ['miss', 'hit'] as const) {
    const ttfts: number[] = [];
    const per = { total: 0, cache: 0, images: 0, payloads: 0 };
    for (const [k, image] of images.entries()) {
      meter.reset();
      const body = { max_tokens: 1, temperature: 0, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${image.toString('base64')}` } }, { type: 'text', text: `bytes ${k}` }] }] };
      ttfts.push((await streamChat(httpUrl, body)).ttftMs);
      await nc.flush();
      const sum = (b: string) => meter.bucket(b).writtenBytes + meter.bucket(b).readBytes;
      per.total += meter.totalBytes();
      per.cache += sum('tessera-encoder-cache');
      per.images += sum('tessera-images');
      per.payloads += sum('tessera-payloads');
    }
    const n = images.length;
    const mb = (x: number) => (x / n / 1e6).toFixed(3);
    rows.push(`| ${round} | ${n} | ${pct(ttfts, 50).toFixed(1)} | ${mb(per.total)} | ${mb(per.cache)} | ${mb(per.payloads)} | ${mb(per.images)} |`);
  }
  console.log(`\n## Bytes over NATS per image request (896×672 PNG ≈ ${(images[0]!.length / 1e6).toFixed(2)} MB, max_tokens 1), load ${os.loadavg()[0]!.toFixed(1)}`);
  console.log('| encoder cache | requests | TTFT p50 ms | bus MB/request | encoder-cache bucket MB | claim-check bucket MB | image store MB |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  await meter.stop();
  await nc.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
