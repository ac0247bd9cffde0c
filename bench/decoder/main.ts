/**
 * Decoder benchmark: `npx tsx bench/decoder/main.ts` (bench preset; TESSERA_MODEL_DIR overrides).
 * Every ratio is against a baseline measured in this run:
 *  1. single stream, engine v2 (paged cache) vs the previous engine's path (contiguous-KV graph,
 *     `present` fed back as `past`): decode tok/s and prefill tok/s;
 *  2. aggregate tok/s at 1, 8 and 16 concurrent streams, ratio against 1;
 *  3. decode tok/s at context 2048 ÷ context 128 (fp32, and int4 with BENCH_INT4=1: builds an int4 copy;
 *     BENCH_CTX_WEIGHTS picks them; BENCH_KV_DTYPE=float32,float16,int8 adds KV cache dtype builds),
 *     the contexts interleaved in one engine over BENCH_CTX_ROUNDS rounds, wall and process-CPU ratios;
 *  4. TTFT of a new ~1,000-token request while 8 streams decode, with and without chunked prefill, and
 *     the running streams' inter-token latency meanwhile;
 *  5. prefix cache: TTFT of a repeated 1,000-token system prompt (hit) vs the first time (miss);
 *  6. the same weights under @huggingface/transformers' generate() (contiguous graph re-wired);
 *  7. prompt logprobs (vLLM's prompt_logprobs, lm-eval's loglikelihood): TTFT of a 512-token prompt scored
 *     (every position's logits, TESSERA_DECODER_PROMPT_LOGITS_PER_STEP rows a step) vs the same prompt plain;
 *  8. per-token confidence (what the gateway asks for the feedback record): aggregate tok/s of
 *     BENCH_CONF_STREAMS concurrent sampled streams with `confidence` (chosen token's raw logprob from the
 *     graph's logits_lse) vs full `logprobs` (a log-softmax over the vocabulary per token, what the gateway
 *     asked before) vs neither, the modes in rotating order over BENCH_CONF_ROUNDS rounds; ratios are medians of per-round ratios.
 * BENCH_FAMILY=4.6 runs sections 2–4 on the `bench-4.6` preset (the real 4.6 text shapes, hybrid graph through
 * the engine's state slots; the preset model is ~1.3 B parameters, generated and built once); sections 1, 5
 * and 6 are 2.6-only (contiguous graph, prefix cache — off for hybrid layers —, transformers.js), and the
 * ctx-16k decode number is bench/model/hybrid46.ts's (synthetic cache; a 16k CPU prefill takes too long).
 * Env: BENCH_FAMILY (2.6), BENCH_TOKENS (16), BENCH_LEVELS (1,8,16), BENCH_CTX (128,2048), BENCH_CTX_ROUNDS (3), BENCH_INT4 (0),
 * BENCH_CTX_WEIGHTS (fp32[,int4]), BENCH_KV_DTYPE (float32),
 * BENCH_TRANSFORMERS (1), BENCH_SECTIONS (1,2,3,4,5,6,7,8), BENCH_CONF_STREAMS (8), BENCH_CONF_ROUNDS (3),
 * TESSERA_INTRA_OP_THREADS (2). Prints the load
 * average next to the numbers. A short run of everything (a few minutes on 2 cores):
 *   BENCH_TOKENS=4 BENCH_LEVELS=1,2 BENCH_CTX=128,256 BENCH_CTX_ROUNDS=1 npx tsx bench/decoder/main.ts
 */
import { loadavg } from 'node:os';
import { buildModel, ensurePresetModelPaths, readManifest, type KvCacheDtype } from '@tessera/model';
import { Engine, loadDecoderModel, samplingParams, type EngineChunk, type EngineLimits, type LoadedDecoderModel, type SamplingParams } from '@tessera/decoder';
import { contiguousModelDir, legacySingleStream, openContiguous } from './legacy-engine.js';
import { transformersBaseline } from './transformers-baseline.js';

const TOKENS = Number(process.env.BENCH_TOKENS ?? 16);
const LEVELS = (process.env.BENCH_LEVELS ?? '1,8,16').split(',').map(Number);
const CTX = (process.env.BENCH_CTX ?? '128,2048').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_CTX_ROUNDS ?? 3);
const THREADS = Number(process.env.TESSERA_INTRA_OP_THREADS ?? 2);
/** Section 3's weight formats (fp32, plus int4 with BENCH_INT4=1) and KV cache dtypes (BENCH_KV_DTYPE, e.g. float32,float16,int8). */
const CTX_WEIGHTS = (process.env.BENCH_CTX_WEIGHTS ?? (process.env.BENCH_INT4 === '1' ? 'fp32,int4' : 'fp32')).split(',') as ('fp32' | 'int4')[];
const KV_DTYPES = (process.env.BENCH_KV_DTYPE ?? 'float32').split(',') as KvCacheDtype[];
const FAMILY = process.env.BENCH_FAMILY ?? '2.6';
if (FAMILY !== '2.6' && FAMILY !== '4.6') throw new Error(`BENCH_FAMILY=${FAMILY}: 2.6 or 4.6 (4.5's bench preset is the real 8 B shapes: bench/model/resampler45.ts)`);
/** Sections that need the 2.6 graphs: 1 (contiguous-KV graph), 5 (prefix cache, off for hybrid layers), 6 (transformers.js). */
const ONLY_26 = [1, 5, 6];
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? '1,2,3,4,5,6,7,8').split(',').map(Number).filter((n) => FAMILY === '2.6' || !ONLY_26.includes(n)));
const median = (xs: number[]): number => pct(xs, 50);
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
  /** Process CPU seconds (all threads) per token after the first: the decode phase only. */
  cpuPerTokenS: number;
}

const cpuS = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function drive(engine: Engine, id: string, prompt: Int32Array, maxTokens: number, tenant = 't', promptLogprobs?: number, sampling: Partial<SamplingParams> = {}): Promise<Run> {
  const h = engine.submit({ requestId: id, tenant, promptTokenIds: prompt, params: samplingParams({ maxTokens, ignoreEos: true, ...sampling }), ...(promptLogprobs !== undefined && { promptLogprobs }) });
  const out: number[] = [];
  const gaps: number[] = [];
  let last: EngineChunk | undefined;
  let t = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  let firstTokens = 0;
  for await (const c of h.chunks) {
    const now = performance.now();
    if (t) gaps.push((now - t) / 1000);
    t = now;
    if (!firstTokens && c.tokenIds.length) {
      cpuFirst = cpuS();
      firstTokens = c.tokenIds.length;
    } else if (c.tokenIds.length) cpuLast = cpuS();
    out.push(...c.tokenIds);
    last = c;
  }
  const decoded = out.length - firstTokens;
  return { ids: out, last: last!, gaps, cpuPerTokenS: decoded > 0 && cpuLast ? (cpuLast - cpuFirst) / decoded : NaN };
}

const engineOf = (m: LoadedDecoderModel, limits: Partial<EngineLimits> = {}): Engine =>
  new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes, limits: { maxBatchSize: 16, prefixCaching: false, kvBudgetBytes: 1024 * 1024 * 1024, ...limits } });

/**
 * Decode rate at each context in ONE engine, the contexts interleaved over ROUNDS rounds and the median
 * taken per context, so the shared machine's load drift hits every context alike (run one after the
 * other, a 2-core box with 8 agents on it moved the fp32 ratio between 0.65 and 0.88). Each context's
 * prompt repeats and prefix caching is on, so after the warm-up round only its last partial block is
 * prefilled; perTokenS never includes the prefill. Also the process CPU time per decode token (all
 * threads), which other processes disturb less than wall time.
 */
async function decodeRates(m: LoadedDecoderModel): Promise<{ tokS: number[]; cpuTokS: number[] }> {
  const e = engineOf(m, { maxPrefillTokensPerStep: 4096, prefixCaching: true });
  const wall = CTX.map(() => [] as number[]);
  const cpu = CTX.map(() => [] as number[]);
  for (let r = -1; r < ROUNDS; r++) {
    for (let i = 0; i < CTX.length; i++) {
      const run = await drive(e, `ctx${CTX[i]}-${r}`, ids(CTX[i]!, 7), r < 0 ? 2 : TOKENS);
      if (r < 0) continue; // warm-up: prefill once, first steps at these shapes
      wall[i]!.push(run.last.timings!.perTokenS);
      cpu[i]!.push(run.cpuPerTokenS);
    }
  }
  await e.close();
  return { tokS: wall.map((w) => 1 / median(w)), cpuTokS: cpu.map((c) => 1 / median(c)) };
}

const dir = process.env.TESSERA_MODEL_DIR || (await ensurePresetModelPaths('bench', FAMILY)).model;
const m = await loadDecoderModel(dir, { intraOpNumThreads: THREADS });
const info = m.backend.info;
log(`model ${dir} (MiniCPM-V ${m.family.id})\n  layers ${info.numLayers}, hidden ${info.hiddenSize}, vocab ${info.vocabSize}, decoder weights ${(info.weightBytes / 1e9).toFixed(2)} GB, KV ${info.kvBytesPerToken} B/token, state ${(info.stateBytesPerSequence / 1e6).toFixed(2)} MB/sequence, ${THREADS} ORT threads, ${TOKENS} greedy tokens per stream`);
if (FAMILY !== '2.6') log(`  sections ${[...SECTIONS].join(',')} (${ONLY_26.join(', ')} are 2.6-only)`);
log(`start: ${load()}`);
{
  const warm = engineOf(m);
  await drive(warm, 'warm', ids(32, 1), 4);
  await warm.close();
}

if (SECTIONS.has(1)) {
  log('\n## 1. single stream: engine v2 vs the previous engine (contiguous KV, present → past), same weights');
  const promptLen = 512;
  // Each side runs twice and keeps the faster run: the first run of a new shape allocates ORT's arenas.
  const v2 = engineOf(m, { maxPrefillTokensPerStep: 4096 });
  const s2a = await drive(v2, 'single-a', ids(promptLen, 3), TOKENS);
  const s2b = await drive(v2, 'single-b', ids(promptLen, 3), TOKENS);
  await v2.close();
  const s2 = s2b.last.timings!.totalS < s2a.last.timings!.totalS ? s2b : s2a;
  const v2Decode = 1 / s2.last.timings!.perTokenS;
  const v2Prefill = promptLen / s2.last.timings!.prefillS;
  const legacyModel = await openContiguous(await contiguousModelDir(dir), THREADS);
  const oldA = await legacySingleStream(legacyModel, ids(promptLen, 3), TOKENS);
  const oldB = await legacySingleStream(legacyModel, ids(promptLen, 3), TOKENS);
  const old = { prefillS: Math.min(oldA.prefillS, oldB.prefillS), decodeTokS: Math.max(oldA.decodeTokS, oldB.decodeTokS), tokenIds: oldA.tokenIds };
  const oldPrefill = promptLen / old.prefillS;
  log('| engine | prefill tok/s (512-token prompt) | decode tok/s |\n|---|---|---|');
  log(`| previous (contiguous) | ${oldPrefill.toFixed(1)} | ${old.decodeTokS.toFixed(2)} |`);
  log(`| v2 (paged) | ${v2Prefill.toFixed(1)} | ${v2Decode.toFixed(2)} |`);
  log(`ratio v2 / previous: prefill ${(v2Prefill / oldPrefill).toFixed(2)}×, decode ${(v2Decode / old.decodeTokS).toFixed(2)}×; same greedy tokens: ${old.tokenIds.join() === s2.ids.join() ? 'yes' : 'NO'}  (${load()})`);
  await legacyModel.release();
}

if (SECTIONS.has(2)) {
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
}

if (SECTIONS.has(3)) {
  log(`\n## 3. decode tok/s against context (one engine, contexts interleaved, median of ${ROUNDS} rounds)`);
  const ctxRow = async (label: string, mm: LoadedDecoderModel): Promise<void> => {
    const { tokS, cpuTokS } = await decodeRates(mm);
    const ratio = (xs: number[]): string => (xs[xs.length - 1]! / xs[0]!).toFixed(2);
    log(`| ${label} | ${tokS.map((x) => x.toFixed(2)).join(' | ')} | ${ratio(tokS)} | ${cpuTokS.map((x) => x.toFixed(2)).join(' | ')} | ${ratio(cpuTokS)} |`);
  };
  const hi = CTX[CTX.length - 1];
  log(`| weights / KV | ${CTX.map((c) => `ctx ${c} tok/s`).join(' | ')} | ratio ${hi} ÷ ${CTX[0]} | ${CTX.map((c) => `ctx ${c} tok per CPU-s`).join(' | ')} | CPU ratio |\n|---|${CTX.map(() => '---|').join('')}---|${CTX.map(() => '---|').join('')}---|`);
  // Each (weights, KV dtype) pair is its own build next to the preset's (built once, then reused).
  for (const weights of CTX_WEIGHTS) {
    for (const kv of KV_DTYPES) {
      const label = `${weights} / kv ${kv}`;
      if (weights === 'fp32' && kv === 'float32') {
        await ctxRow(label, m);
        continue;
      }
      const variantDir = `${dir}${weights === 'int4' ? '-int4' : ''}${kv === 'float32' ? '' : `-kv-${kv}`}`;
      if (!readManifestSafe(variantDir)) await buildModel(readManifest(dir).source.checkpoint, variantDir, { decoderWeights: weights, kvCacheDtype: kv, overwrite: true });
      const mv = await loadDecoderModel(variantDir, { intraOpNumThreads: THREADS });
      await ctxRow(label, mv);
      await mv.model.release();
    }
  }
  log(`(${load()})`);
}

if (SECTIONS.has(4)) {
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
}

if (SECTIONS.has(5)) {
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
}

if (SECTIONS.has(6) && process.env.BENCH_TRANSFORMERS !== '0') {
  log('\n## 6. outside baseline: @huggingface/transformers generate(), same weights, same prompt, greedy');
  try {
    const prompt = ids(40, 0);
    const tj = await transformersBaseline(await contiguousModelDir(dir), prompt, TOKENS, THREADS);
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
if (SECTIONS.has(7)) {
  log('\n## 7. prompt logprobs: a 512-token prompt scored (prompt_logprobs 1) vs the same prompt plain, TTFT (alternating, median of 3)');
  const e = engineOf(m, { maxPrefillTokensPerStep: 512 });
  const prompt = ids(512, 9);
  await drive(e, 'pl-warm', prompt, 1, 't', 1);
  const plain: number[] = [];
  const scored: number[] = [];
  for (let r = 0; r < 3; r++) {
    plain.push((await drive(e, `pl-plain-${r}`, prompt, 1)).last.timings!.timeToFirstTokenS);
    scored.push((await drive(e, `pl-scored-${r}`, prompt, 1, 't', 1)).last.timings!.timeToFirstTokenS);
  }
  await e.close();
  log('| prompt | TTFT ms |\n|---|---|');
  log(`| plain | ${ms(median(plain))} |`);
  log(`| scored (${info.vocabSize} logits per position) | ${ms(median(scored))} |`);
  log(`ratio scored / plain ${(median(scored) / median(plain)).toFixed(2)}× (${load()})`);
}
if (SECTIONS.has(8)) {
  const streams = Number(process.env.BENCH_CONF_STREAMS ?? 8);
  const rounds = Number(process.env.BENCH_CONF_ROUNDS ?? 3);
  log(`\n## 8. per-token confidence: ${streams} concurrent sampled streams (temperature 0.7, 40-token prompts, ${TOKENS} tokens each), modes in rotating order, median of ${rounds} rounds`);
  const modes: [string, Partial<SamplingParams>][] = [
    ['logprobs (full log-softmax per token; the gateway\'s ask before)', { logprobs: true }],
    ['confidence (raw chosen-token logprob, logits_lse)', { confidence: true }],
    ['neither', {}],
  ];
  const e = engineOf(m);
  const rates = modes.map(() => [] as number[]);
  // Tokens per process-CPU-second (all threads) too: other processes on a shared box disturb it less than wall time.
  const cpuRates = modes.map(() => [] as number[]);
  for (let r = -1; r < rounds; r++) {
    // The order rotates each round, so no mode always runs first (or right after another) on a drifting load.
    for (let j = 0; j < modes.length; j++) {
      const k = (j + Math.max(0, r)) % modes.length;
      const p = modes[k]![1];
      const t0 = performance.now();
      const c0 = cpuS();
      const runs = await Promise.all(Array.from({ length: streams }, (_, i) => drive(e, `conf${k}-${r}-${i}`, ids(40, i), TOKENS, `t${i % 4}`, undefined, { temperature: 0.7, seed: BigInt(i), ...p })));
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuS() - c0;
      const tokens = runs.reduce((n, x) => n + x.ids.length, 0);
      if (r >= 0) {
        rates[k]!.push(tokens / wall);
        cpuRates[k]!.push(tokens / cpu);
      }
    }
  }
  await e.close();
  const med = rates.map(median);
  log('| per-token output | aggregate tok/s (median) | rounds | tok per CPU-s (median) |\n|---|---|---|---|');
  modes.forEach(([label], k) => log(`| ${label} | ${med[k]!.toFixed(2)} | ${rates[k]!.map((x) => x.toFixed(1)).join(', ')} | ${median(cpuRates[k]!).toFixed(2)} |`));
  // Paired per round (the three modes of a round share the load of that moment), then the median.
  const paired = (xs: number[][], a: number, b: number): string => median(xs[a]!.map((x, r) => x / xs[b]![r]!)).toFixed(3);
  log(`wall: ratio confidence / logprobs ${paired(rates, 1, 0)}× (median of per-round ratios; of medians ${(med[1]! / med[0]!).toFixed(3)}×); confidence / neither ${paired(rates, 1, 2)}×; logprobs / neither ${paired(rates, 0, 2)}×`);
  log(`CPU: ratio confidence / logprobs ${paired(cpuRates, 1, 0)}×; confidence / neither ${paired(cpuRates, 1, 2)}×; logprobs / neither ${paired(cpuRates, 0, 2)}× (${load()})`);
}
await m.model.release();

function readManifestSafe(d: string): boolean {
  try {
    readManifest(d);
    return true;
  } catch {
    return false;
  }
}
