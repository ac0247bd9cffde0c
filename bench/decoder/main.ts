/**
 * Decoder benchmark: `npx tsx bench/decoder/main.ts` (bench preset; TESSERA_MODEL_DIR overrides).
 *
 * 1. single-stream decode tokens/s and MBU (bytes read per step × tokens/s ÷ memory bandwidth
 *    measured in this run by a 256 MiB copy);
 * 2. aggregate tokens/s with 1, 4, 8 and 16 concurrent streams (continuous batching), the ratio
 *    against 1 stream, and TTFT p50/p99 under each load;
 * 3. the same weights driven by @huggingface/transformers' generate() (graph edges re-wired for its
 *    loader, see transformers-graph.ts): decode tok/s, TTFT, and whether the greedy tokens agree.
 * Env: BENCH_TOKENS (default 32), BENCH_LEVELS (default 1,4,8,16), TESSERA_INTRA_OP_THREADS (default 2).
 */
import { ensurePresetModelPaths } from '@tessera/model';
import { Engine, assemblePrompt, loadDecoderModel, samplingParams, type EngineChunk } from '@tessera/decoder';
import { transformersBaseline } from './transformers-baseline.js';

const TOKENS = Number(process.env.BENCH_TOKENS ?? 32);
const LEVELS = (process.env.BENCH_LEVELS ?? '1,4,8,16').split(',').map(Number);
const THREADS = Number(process.env.TESSERA_INTRA_OP_THREADS ?? 2);
const log = (s: string): void => console.log(s);

function copyBandwidth(): number {
  const n = 32 * 1024 * 1024; // 256 MiB of float64
  const a = new Float64Array(n).fill(1);
  const b = new Float64Array(n);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    b.set(a);
    best = Math.min(best, performance.now() - t);
  }
  return (2 * n * 8) / (best / 1000); // read + write
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

const dir = process.env.TESSERA_MODEL_DIR || (await ensurePresetModelPaths('bench')).model;
const m = await loadDecoderModel(dir, { intraOpNumThreads: THREADS });
const info = m.backend.info;
log(`model ${dir}\n  layers ${info.numLayers}, hidden ${info.hiddenSize}, vocab ${info.vocabSize}, decoder weights ${(info.weightBytes / 1e9).toFixed(2)} GB fp32, ${THREADS} ORT threads`);
const bw = copyBandwidth();
log(`memory bandwidth (256 MiB copy, read+write, this run): ${(bw / 1e9).toFixed(1)} GB/s`);

const prompt = (i: number): Int32Array =>
  assemblePrompt({ messages: [{ role: 'user', parts: [{ kind: 'text', text: `Request ${i}: write a short story about a lighthouse keeper${' and the sea'.repeat(i % 4)}.` }] }], images: [] }, m.tokenizer, { hiddenSize: info.hiddenSize, queryNum: m.queryNum }, { maxImages: 0 }).tokenIds;

async function level(concurrency: number): Promise<{ tokS: number; ttft: number[]; itl: number[]; wall: number; tokens: number; firstIds: number[] }> {
  const engine = new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes, limits: { maxBatchSize: Math.max(concurrency, 1), prefixCaching: false } });
  const t0 = performance.now();
  const runs = Array.from({ length: concurrency }, async (_, i) => {
    const h = engine.submit({ requestId: `b${concurrency}-${i}`, tenant: `t${i % 4}`, promptTokenIds: prompt(i), params: samplingParams({ maxTokens: TOKENS, ignoreEos: true }) });
    let last: EngineChunk | undefined;
    const ids: number[] = [];
    for await (const c of h.chunks) { last = c; ids.push(...c.tokenIds); }
    return { ...last!, allIds: ids };
  });
  const done = await Promise.all(runs);
  const wall = (performance.now() - t0) / 1000;
  await engine.close();
  const tokens = done.reduce((n, c) => n + (c.usage?.completionTokens ?? 0), 0);
  return { tokS: tokens / wall, ttft: done.map((c) => c.timings!.timeToFirstTokenS), itl: done.map((c) => c.timings!.perTokenS), wall, tokens, firstIds: done[0]!.allIds };
}

// Warm-up: first ORT runs allocate arenas.
await level(1);

log('\n## single stream');
const single = await level(1);
const decodeTokS = 1 / single.itl[0]!;
const kvBytes = info.kvBytesPerToken * (prompt(0).length + TOKENS / 2);
const mbu = ((info.weightBytes + kvBytes) * decodeTokS) / bw;
log(`decode ${decodeTokS.toFixed(2)} tok/s (ITL ${(single.itl[0]! * 1000).toFixed(1)} ms), TTFT ${(single.ttft[0]! * 1000).toFixed(0)} ms, end-to-end ${single.tokS.toFixed(2)} tok/s`);
log(`MBU ${(mbu * 100).toFixed(0)}% of the measured ${(bw / 1e9).toFixed(1)} GB/s (roofline ${(bw / (info.weightBytes + kvBytes)).toFixed(1)} tok/s)`);

log('\n## concurrent streams (continuous batching)');
log('| streams | tokens | wall s | aggregate tok/s | × vs 1 | TTFT p50 ms | TTFT p99 ms | ITL p50 ms |');
log('|---|---|---|---|---|---|---|---|');
let base = 0;
let lastAgg = single.tokS;
for (const c of LEVELS) {
  const r = c === 1 ? single : await level(c);
  if (c === 1) base = r.tokS;
  lastAgg = r.tokS;
  log(`| ${c} | ${r.tokens} | ${r.wall.toFixed(1)} | ${r.tokS.toFixed(2)} | ${base ? (r.tokS / base).toFixed(2) : '-'} | ${(pct(r.ttft, 50) * 1000).toFixed(0)} | ${(pct(r.ttft, 99) * 1000).toFixed(0)} | ${(pct(r.itl, 50) * 1000).toFixed(0)} |`);
}

log('\n## outside baseline: @huggingface/transformers 4.3.1 generate(), same weights, same prompt, greedy');
try {
  const tj = await transformersBaseline(dir, prompt(0), TOKENS, THREADS);
  const same = tj.tokenIds.length === single.firstIds.length && tj.tokenIds.every((t, i) => t === single.firstIds[i]);
  log(`| engine | decode tok/s | TTFT ms | end-to-end tok/s |\n|---|---|---|---|`);
  log(`| transformers.js generate() | ${tj.decodeTokS.toFixed(2)} | ${(tj.ttftS * 1000).toFixed(0)} | ${tj.endToEndTokS.toFixed(2)} |`);
  log(`| tessera engine, 1 stream | ${decodeTokS.toFixed(2)} | ${(single.ttft[0]! * 1000).toFixed(0)} | ${single.tokS.toFixed(2)} |`);
  const best = LEVELS.length ? Math.max(...LEVELS) : 1;
  log(`ratio tessera/transformers.js: single-stream decode ${(decodeTokS / tj.decodeTokS).toFixed(2)}×; tessera aggregate at ${best} streams vs transformers.js one stream ${(lastAgg / tj.endToEndTokS).toFixed(2)}×`);
  log(`same greedy tokens as our engine: ${same ? 'yes' : `NO (${tj.tokenIds.slice(0, 8).join(',')} vs ${single.firstIds.slice(0, 8).join(',')})`}`);
} catch (err) {
  log(`transformers.js could not run this graph: ${(err as Error).message}`);
}
await m.model.release();
