/**
 * Decoder benchmark: `npx tsx bench/decoder/main.ts` (bench preset; TESSERA_MODEL_DIR overrides).
 * Every ratio is against a baseline measured in this run:
 *  1. single stream, engine v2 (paged cache) vs the previous engine's path (contiguous-KV graph,
 *     `present` fed back as `past`): decode tok/s and prefill tok/s;
 *  2. aggregate tok/s at 1, 8 and 16 concurrent streams, ratio against 1;
 *  3. decode tok/s at context 2048 ÷ context 128 (fp32, and int4 with BENCH_INT4=1: builds an int4 copy);
 *  4. TTFT of a new ~1,000-token request while 8 streams decode, with and without chunked prefill, and
 *     the running streams' inter-token latency meanwhile;
 *  5. prefix cache: TTFT of a repeated 1,000-token system prompt (hit) vs the first time (miss);
 *  6. the same weights under @huggingface/transformers' generate() (contiguous graph re-wired).
 * Env: BENCH_TOKENS (16), BENCH_LEVELS (1,8,16), BENCH_CTX (128,2048), BENCH_INT4 (0),
 * BENCH_TRANSFORMERS (1), TESSERA_INTRA_OP_THREADS (2). Prints the load average next to the numbers.
 */
import { loadavg } from 'node:os';
import { buildModel, ensurePresetModelPaths, readManifest } from '@tessera/model';
import { Engine, loadDecoderModel, samplingParams, type EngineChunk, type EngineLimits, type LoadedDecoderModel } from '@tessera/decoder';
import { contiguousModelDir, legacySingleStream, openContiguous } from './legacy-engine.js';
import { transformersBaseline } from './transformers-baseline.js';

const TOKENS = Number(process.env.BENCH_TOKENS ?? 16);
const LEVELS = (process.env.BENCH_LEVELS ?? '1,8,16').split(',').map(Number);
const CTX = (process.env.BENCH_CTX ?? '128,2048').split(',').map(Number);
const THREADS = Number(process.env.TESSERA_INTRA_OP_THREADS ?? 2);
const log = (s: string): void => console.log(s);
const load = (): string => `load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`;
const ms = (s: number): string => (s * 1000).toFixed(0);
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
/** Plain-text-like token ids (no special tokens), deterministic per seed. */
const ids = (n: number, seed: number): Int32Array => Int32Array.from({ length: n }, (_, i) => 1000 + ((i * 37 + seed * 101) % 5000));

interface Run {
  ids: number[];
  last: EngineChunk;
  /** Gaps between consecutive chunks, seconds. */
  gaps: number[];
}

async function drive(engine: Engine, id: string, prompt: Int32Array, maxTokens: number, tenant = 't'): Promise<Run> {
  const h = engine.submit({ requestId: id, tenant, promptTokenIds: prompt, params: samplingParams({ maxTokens, ignoreEos: true }) });
  const out: number[] = [];
  const gaps: number[] = [];
  let last: EngineChunk | undefined;
  let t = 0;
  for await (const c of h.chunks) {
    const now = performance.now();
    if (t) gaps.push((now - t) / 1000);
    t = now;
    out.push(...c.tokenIds);
    last = c;
  }
  return { ids: out, last: last!, gaps };
}

const engineOf = (m: LoadedDecoderModel, limits: Partial<EngineLimits> = {}): Engine =>
  new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes, limits: { maxBatchSize: 16, prefixCaching: false, kvBudgetBytes: 1024 * 1024 * 1024, ...limits } });

async function decodeAt(m: LoadedDecoderModel, ctx: number): Promise<number> {
  const e = engineOf(m, { maxPrefillTokensPerStep: 4096 });
  const r = await drive(e, `ctx${ctx}`, ids(ctx, 7), TOKENS);
  await e.close();
  return 1 / r.last.timings!.perTokenS;
}

const dir = process.env.TESSERA_MODEL_DIR || (await ensurePresetModelPaths('bench')).model;
const m = await loadDecoderModel(dir, { intraOpNumThreads: THREADS });
const info = m.backend.info;
log(`model ${dir}\n  layers ${info.numLayers}, hidden ${info.hiddenSize}, vocab ${info.vocabSize}, decoder weights ${(info.weightBytes / 1e9).toFixed(2)} GB, KV ${info.kvBytesPerToken} B/token, ${THREADS} ORT threads, ${TOKENS} greedy tokens per stream`);
log(`start: ${load()}`);
{
  const warm = engineOf(m);
  await drive(warm, 'warm', ids(32, 1), 4);
  await warm.close();
}

log('\n## 1. single stream: engine v2 vs the previous engine (contiguous KV, present → past), same weights');
const promptLen = 512;
const v2 = engineOf(m, { maxPrefillTokensPerStep: 4096 });
const s2 = await drive(v2, 'single', ids(promptLen, 3), TOKENS);
await v2.close();
const v2Decode = 1 / s2.last.timings!.perTokenS;
const v2Prefill = promptLen / s2.last.timings!.prefillS;
const legacyModel = await openContiguous(await contiguousModelDir(dir), THREADS);
const old = await legacySingleStream(legacyModel, ids(promptLen, 3), TOKENS);
const oldPrefill = promptLen / old.prefillS;
log('| engine | prefill tok/s (512-token prompt) | decode tok/s |\n|---|---|---|');
log(`| previous (contiguous) | ${oldPrefill.toFixed(1)} | ${old.decodeTokS.toFixed(2)} |`);
log(`| v2 (paged) | ${v2Prefill.toFixed(1)} | ${v2Decode.toFixed(2)} |`);
log(`ratio v2 / previous: prefill ${(v2Prefill / oldPrefill).toFixed(2)}×, decode ${(v2Decode / old.decodeTokS).toFixed(2)}×; same greedy tokens: ${old.tokenIds.join() === s2.ids.join() ? 'yes' : 'NO'}  (${load()})`);

log('\n## 2. concurrent streams (continuous batching, 40-token prompts)');
log('| streams | aggregate tok/s | × vs 1 | TTFT p50 ms | TTFT p99 ms | ITL p50 ms |\n|---|---|---|---|---|---|');
let base = 0;
for (const c of LEVELS) {
  const e = engineOf(m);
  const t0 = performance.now();
  const runs = await Promise.all(Array.from({ length: c }, (_, i) => drive(e, `c${c}-${i}`, ids(40, i), TOKENS, `t${i % 4}`)));
  const wall = (performance.now() - t0) / 1000;
  await e.close();
  const agg = (c * TOKENS) / wall;
  if (c === 1) base = agg;
  log(`| ${c} | ${agg.toFixed(2)} | ${base ? (agg / base).toFixed(2) : '-'} | ${ms(pct(runs.map((r) => r.last.timings!.timeToFirstTokenS), 50))} | ${ms(pct(runs.map((r) => r.last.timings!.timeToFirstTokenS), 99))} | ${ms(pct(runs.flatMap((r) => r.gaps), 50))} |`);
}
log(`(${load()})`);

log('\n## 3. decode tok/s against context');
const ctxRow = async (label: string, mm: LoadedDecoderModel): Promise<void> => {
  const r = [];
  for (const c of CTX) r.push(await decodeAt(mm, c));
  log(`| ${label} | ${r.map((x) => x.toFixed(2)).join(' | ')} | ${(r[r.length - 1]! / r[0]!).toFixed(2)} |`);
};
log(`| weights | ${CTX.map((c) => `ctx ${c}`).join(' | ')} | ratio ${CTX[CTX.length - 1]} ÷ ${CTX[0]} |\n|---|${CTX.map(() => '---|').join('')}---|`);
await ctxRow('fp32', m);
if (process.env.BENCH_INT4 === '1') {
  const int4Dir = `${dir}-int4`;
  if (!readManifestSafe(int4Dir)) await buildModel(readManifest(dir).source.checkpoint, int4Dir, { decoderWeights: 'int4', overwrite: true });
  const m4 = await loadDecoderModel(int4Dir, { intraOpNumThreads: THREADS });
  await ctxRow('int4', m4);
  await m4.model.release();
}
log(`(${load()})`);

log('\n## 4. a new 1,000-token request while 8 streams decode');
log('| prefill | new request TTFT ms | running streams ITL p50 ms | ITL p99 ms (max stall) |\n|---|---|---|---|');
for (const [label, chunk] of [['one shot (chunk 4096)', 4096], ['chunked (256)', 256]] as const) {
  const e = engineOf(m, { maxPrefillTokensPerStep: chunk });
  const streams = Array.from({ length: 8 }, (_, i) => drive(e, `s${i}`, ids(40, i), TOKENS * 3));
  while (e.stats().running < 8 || e.stats().generatedTokens < 16) await new Promise((r) => setTimeout(r, 5));
  const mark = performance.now();
  const fresh = await drive(e, 'new', ids(1000, 99), 2);
  const rs = await Promise.all(streams);
  await e.close();
  // Inter-token gaps of the running streams that overlap the new request's prefill window.
  const during = rs.flatMap((r) => r.gaps).filter((g) => g > 0);
  log(`| ${label} | ${ms(fresh.last.timings!.timeToFirstTokenS)} | ${ms(pct(during, 50))} | ${ms(pct(during, 99))} |`);
  void mark;
}
log(`(${load()})`);

log('\n## 5. prefix cache: a repeated 1,000-token system prompt');
{
  const e = engineOf(m, { prefixCaching: true, maxPrefillTokensPerStep: 4096 });
  const system = ids(1000, 5);
  const ask = (q: number) => Int32Array.from([...system, ...ids(24, 200 + q)]);
  const miss = await drive(e, 'miss', ask(0), 2);
  const hit = await drive(e, 'hit', ask(1), 2);
  await e.close();
  const st = e.stats();
  log(`TTFT miss ${ms(miss.last.timings!.timeToFirstTokenS)} ms, hit ${ms(hit.last.timings!.timeToFirstTokenS)} ms (${hit.last.usage!.cachedPromptTokens} cached tokens): ${(miss.last.timings!.timeToFirstTokenS / hit.last.timings!.timeToFirstTokenS).toFixed(1)}× faster; prefix hit rate ${(st.prefixCacheHits / st.prefixCacheQueries).toFixed(2)} (${load()})`);
}

if (process.env.BENCH_TRANSFORMERS !== '0') {
  log('\n## 6. outside baseline: @huggingface/transformers generate(), same weights, same prompt, greedy');
  try {
    const prompt = ids(40, 0);
    const tj = await transformersBaseline(legacyModel.dir, prompt, TOKENS, THREADS);
    const e = engineOf(m);
    const ours = await drive(e, 'tj', prompt, TOKENS);
    await e.close();
    const oursDecode = 1 / ours.last.timings!.perTokenS;
    log(`| engine | decode tok/s | TTFT ms |\n|---|---|---|`);
    log(`| transformers.js generate() | ${tj.decodeTokS.toFixed(2)} | ${ms(tj.ttftS)} |`);
    log(`| tessera engine v2, 1 stream | ${oursDecode.toFixed(2)} | ${ms(ours.last.timings!.timeToFirstTokenS)} |`);
    log(`ratio tessera / transformers.js decode ${(oursDecode / tj.decodeTokS).toFixed(2)}×; same greedy tokens: ${tj.tokenIds.join() === ours.ids.join() ? 'yes' : `NO (${tj.tokenIds.slice(0, 6).join(',')} vs ${ours.ids.slice(0, 6).join(',')})`} (${load()})`);
  } catch (err) {
    log(`transformers.js baseline failed: ${(err as Error).stack ?? err}`);
    process.exitCode = 1;
  }
}
await legacyModel.release();
await m.model.release();

function readManifestSafe(d: string): boolean {
  try {
    readManifest(d);
    return true;
  } catch {
    return false;
  }
}
