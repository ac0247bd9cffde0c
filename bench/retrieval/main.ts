/**
 * Retrieval benchmark, all on the same synthetic vectors in one run:
 *  - ingest: records/s into the LanceDB store (vectors given), and chunks/s end to end
 *    (split → term-hash embedder → store) through RetrievalEngine.addDocuments;
 *  - at each size (default 10k and 100k, 384-d): HNSW build rate, then query p50/p99, q/s and
 *    recall@10 (k = 10, one query at a time) for
 *      exact brute force in JS (the baseline and the ground truth),
 *      LanceDB's exact flat scan,
 *      raw usearch: the native index of the collection's HNSW graph, called directly,
 *      our HNSW layer (HnswIndex.search: key → id mapping, filter handling) on that same graph,
 *      LanceStore.searchVector over HNSW (+ fetching the hit rows from Lance),
 *      the same with a metadata filter (1/8 of rows; recall against the exact filtered top-10),
 *    with ratios to the baseline and to raw usearch from this run;
 *  - optional (--ivfpq): LanceDB's IVF_PQ index with the old service defaults.
 * Data: see makeSpace (synthetic — no embedding model weights are reachable here); queries are
 * drawn from the same distribution.
 *
 *   npx tsx bench/retrieval/main.ts [--dim 384] [--queries 200] [--sizes 10000,100000] [--ivfpq] [--graph-only [--cache] [--ef 16,32,128]]
 *
 * --graph-only: no LanceDB — brute force (truth), HNSW build, raw usearch vs our layer only;
 * --cache keeps that graph in the temp dir for the next run; --ef 16,32,128 adds a recall / q/s
 * sweep of usearch's expansion_search on that graph.
 *
 * On 2 cores pin it: taskset -c 0,1 npx tsx bench/retrieval/main.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { DEFAULT_HNSW, HnswIndex, LanceStore, mulberry32, RetrievalEngine, TermHashEmbedder, type StoredRecord } from '@tessera/retrieval';

const { values } = parseArgs({
  options: { dim: { type: 'string', default: '384' }, queries: { type: 'string', default: '200' }, sizes: { type: 'string', default: '10000,100000' }, ivfpq: { type: 'boolean', default: false }, 'graph-only': { type: 'boolean', default: false }, cache: { type: 'boolean', default: false }, ef: { type: 'string' } },
});
// usearch's ESM entry resolves its native addon relative to the CJS build (as in hnsw-index.ts).
const usearch = createRequire(import.meta.url)('usearch') as typeof import('usearch');
const DIM = Number(values.dim);
const Q = Number(values.queries);
const SIZES = values.sizes!.split(',').map(Number);
const K = 10;

const rng = mulberry32;

/**
 * Low intrinsic dimension, like real sentence embeddings: 1,000 cluster centres in a 24-d latent
 * space, points = centre + N(0, 0.6²) there, linearly projected to DIM, plus N(0, 0.05²) isotropic
 * noise, then unit-normalised.
 */
const LATENT = 24;
function makeSpace(seed: number): { centers: Float64Array[]; proj: Float64Array[] } {
  const r = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return {
    centers: Array.from({ length: 1000 }, () => Float64Array.from({ length: LATENT }, gauss)),
    proj: Array.from({ length: DIM }, () => Float64Array.from({ length: LATENT }, () => gauss() / Math.sqrt(LATENT))),
  };
}

function mixture(n: number, seed: number, space: { centers: Float64Array[]; proj: Float64Array[] }): Float32Array[] {
  const r = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const z = new Float64Array(LATENT);
  return Array.from({ length: n }, () => {
    const c = space.centers[Math.floor(r() * space.centers.length)]!;
    for (let j = 0; j < LATENT; j++) z[j] = c[j]! + 0.6 * gauss();
    const v = new Float32Array(DIM);
    let norm = 0;
    for (let i = 0; i < DIM; i++) {
      let s = 0.05 * gauss();
      const row = space.proj[i]!;
      for (let j = 0; j < LATENT; j++) s += row[j]! * z[j]!;
      v[i] = s;
      norm += s * s;
    }
    norm = Math.sqrt(norm);
    for (let i = 0; i < DIM; i++) v[i]! /= norm;
    return v;
  });
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

interface Timing {
  p50: number;
  p99: number;
  qps: number;
}

async function timeQueries(n: number, run: (i: number) => Promise<unknown> | unknown): Promise<Timing> {
  for (let i = 0; i < Math.min(20, n); i++) await run(i);
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await run(i);
    lat.push(performance.now() - s);
  }
  const total = performance.now() - t0;
  lat.sort((a, b) => a - b);
  return { p50: pct(lat, 50), p99: pct(lat, 99), qps: (n / total) * 1000 };
}

/** Exact top-k by inner product (= cosine on unit vectors): one pass, insertion into a k-list. */
function exactTopK(data: Float32Array[], q: Float32Array, k: number): number[] {
  const ids = new Int32Array(k).fill(-1);
  const sc = new Float64Array(k).fill(-Infinity);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    let s = 0;
    for (let d = 0; d < DIM; d++) s += v[d]! * q[d]!;
    if (s <= sc[k - 1]!) continue;
    let j = k - 1;
    while (j > 0 && sc[j - 1]! < s) {
      sc[j] = sc[j - 1]!;
      ids[j] = ids[j - 1]!;
      j--;
    }
    sc[j] = s;
    ids[j] = i;
  }
  return Array.from(ids);
}


/**
 * Raw usearch vs our layer on the same graph, paired: every query runs on both back to back (the
 * order alternating per query), ROUNDS times, so load drift on a shared machine hits both sides
 * equally. Three ratios of our q/s to raw usearch's: summed wall latency; summed process CPU time
 * (user + system, `process.cpuUsage`), which a preemption by another process does not inflate;
 * and the sum over queries of each query's fastest of the ROUNDS runs, which drops the rounds a
 * preemption hit. At load 20, single 20–30 ms stalls landing on one side moved the summed-wall
 * ratio between 99 % and 116 % from run to run; the other two stayed within ±2 points. (Best of
 * rounds on separate passes, the method before, swung it between 67 % and 92 % at load 23–28.)
 */
const ROUNDS = 5;
interface Paired {
  raw: Timing;
  ours: Timing;
  /** Our layer's q/s ÷ raw usearch's, from summed CPU time. */
  cpuRatio: number;
  /** The same from the per-query fastest round. */
  minRatio: number;
}
async function pairedRawVsOurs(graph: HnswIndex, queries: Float32Array[]): Promise<Paired> {
  const raw = (i: number) => graph.native.search(queries[i]!, K, 1);
  const ours = (i: number) => graph.search(queries[i]!, K);
  for (let i = 0; i < Math.min(50, queries.length); i++) (raw(i), ours(i));
  const lat = { raw: [] as number[], ours: [] as number[] };
  const best = { raw: new Float64Array(queries.length).fill(Infinity), ours: new Float64Array(queries.length).fill(Infinity) };
  const cpu = { raw: 0, ours: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < queries.length; i++) {
      const order = (i + r) % 2 === 0 ? (['raw', 'ours'] as const) : (['ours', 'raw'] as const);
      for (const side of order) {
        const c = process.cpuUsage();
        const s = performance.now();
        if (side === 'raw') raw(i);
        else ours(i);
        const ms = performance.now() - s;
        const d = process.cpuUsage(c);
        lat[side].push(ms);
        best[side][i] = Math.min(best[side][i]!, ms);
        cpu[side] += d.user + d.system;
      }
    }
  }
  const summary = (l: number[]): Timing => {
    const total = l.reduce((a, b) => a + b, 0);
    l.sort((a, b) => a - b);
    return { p50: pct(l, 50), p99: pct(l, 99), qps: (l.length / total) * 1000 };
  };
  const sum = (a: Float64Array) => a.reduce((x, y) => x + y, 0);
  return { raw: summary(lat.raw), ours: summary(lat.ours), cpuRatio: cpu.raw / cpu.ours, minRatio: sum(best.raw) / sum(best.ours) };
}

const recall = (found: number[][], truth: number[][]) => found.reduce((s, f, i) => s + f.filter((x) => truth[i]!.includes(x)).length, 0) / (truth.length * K);

const K_FILTER_SHARD = 3;

/** Brute force truth, then raw usearch vs our layer on a graph built directly (no LanceDB). */
async function graphOnly(data: Float32Array[], queries: Float32Array[]): Promise<void> {
  for (const n of [...SIZES].sort((a, b) => a - b)) {
    console.log(`\n== ${n.toLocaleString('en')} records x ${DIM}-d (graph only) ==`);
    const sub = data.slice(0, n);
    const truth: number[][] = [];
    const bruteLat: number[] = [];
    for (const q of queries) {
      const s0 = performance.now();
      truth.push(exactTopK(sub, q, K));
      bruteLat.push(performance.now() - s0);
    }
    bruteLat.sort((a, b) => a - b);
    const brute = { p50: pct(bruteLat, 50), p99: pct(bruteLat, 99), qps: 1000 / (bruteLat.reduce((a, b) => a + b, 0) / Q) };
    // The 100k build takes minutes on 2 loaded cores: with --cache the graph is saved under the
    // temp dir (keyed by size and dimension; the data is seeded) and reused by the next run.
    const cacheBase = join(tmpdir(), `tessera-bench-hnsw-${n}-${DIM}`);
    let graph = values.cache ? await HnswIndex.load(cacheBase, 1, DIM, 'cosine', DEFAULT_HNSW) : undefined;
    if (graph) console.log(`HNSW graph loaded from ${cacheBase}.usearch (--cache)`);
    else {
      graph = new HnswIndex(DIM, 'cosine');
      const tb = performance.now();
      await graph.build(Array.from({ length: n }, (_, i) => `r${i}`), sub);
      const buildS = (performance.now() - tb) / 1000;
      console.log(`HNSW build (usearch, M ${graph.params.connectivity}, efC ${graph.params.expansionAdd}, ef ${graph.params.expansionSearch}, all cores): ${buildS.toFixed(1)} s = ${(n / buildS).toFixed(0)} inserts/s`);
      if (values.cache) await graph.save(cacheBase, 1);
    }
    const toIdx = (id: string): number => Number(id.slice(1));
    const { raw, ours, cpuRatio, minRatio } = await pairedRawVsOurs(graph, queries);
    const rawFound = queries.map((q) => Array.from(graph.native.search(q, K, 1).keys, (key) => toIdx(graph.idOfKey(key)!)));
    const oursFound = queries.map((q) => graph.search(q, K).map((h) => toIdx(h.id)));
    const line = (label: string, t: Timing, rec: string, vs?: number) =>
      console.log(`${label.padEnd(36)} p50 ${fmt(t.p50).padStart(9)}  p99 ${fmt(t.p99).padStart(9)}  ${t.qps.toFixed(0).padStart(6)} q/s  ${(t.qps / brute.qps).toFixed(1).padStart(6)}x brute${vs ? `  ${(100 * vs).toFixed(1)}% of usearch q/s` : ''}  recall@10 ${rec}`);
    line('exact brute force (JS, baseline)', brute, '1.000');
    line('raw usearch (native index)', raw, recall(rawFound, truth).toFixed(3), 1);
    line('HNSW (our layer, ids)', ours, recall(oursFound, truth).toFixed(3), ours.qps / raw.qps);
    console.log(`  our layer / raw usearch, paired over ${ROUNDS} rounds: ${(100 * cpuRatio).toFixed(1)}% of usearch q/s by CPU time, ${(100 * minRatio).toFixed(1)}% by fastest round per query`);
    // ef (expansion_search) sweep on the same graph: recall vs q/s, to place the default (64).
    if (values.ef) {
      if (!values.cache) await graph.save(cacheBase, 1);
      for (const ef of values.ef.split(',').map(Number)) {
        const ix = new usearch.Index({ dimensions: DIM, metric: usearch.MetricKind.Cos, quantization: usearch.ScalarKind.F32, connectivity: DEFAULT_HNSW.connectivity, expansion_add: DEFAULT_HNSW.expansionAdd, expansion_search: ef, multi: false } as never);
        ix.load(`${cacheBase}.usearch`);
        const found = queries.map((q) => Array.from(ix.search(q, K, 1).keys, (key) => toIdx(graph.idOfKey(key)!)));
        line(`raw usearch, ef ${ef}`, await timeQueries(Q, (i) => ix.search(queries[i]!, K, 1)), recall(found, truth).toFixed(3));
      }
    }
  }
}

async function main(): Promise<void> {
  if (values['graph-only']) {
    const space = makeSpace(1);
    console.log(`retrieval bench (graph only): dim ${DIM}, queries ${Q}, k ${K}, sizes ${SIZES.join(', ')} (node ${process.version}, ${os.availableParallelism()} cpus, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
    return graphOnly(mixture(Math.max(...SIZES), 2, space), mixture(Q, 3, space));
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-retrieval-'));
  const space = makeSpace(1);
  const maxN = Math.max(...SIZES);
  const data = mixture(maxN, 2, space);
  const queries = mixture(Q, 3, space);
  console.log(`retrieval bench: dim ${DIM}, queries ${Q}, k ${K}, sizes ${SIZES.join(', ')} (node ${process.version}, ${os.availableParallelism()} cpus, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  // Ingest without an automatic graph build, so ingest and build are timed apart.
  const store = new LanceStore({ dir, annThreshold: Number.POSITIVE_INFINITY });
  try {
    // ---- end-to-end ingestion: split → embedder → store -------------------------------------
    {
      const engine = new RetrievalEngine({ store, embedders: [new TermHashEmbedder()] });
      await engine.createCollection('bench', { name: 'e2e' });
      const words = 'retrieval vector search index chunk tokyo istanbul 東京 大学 model query answer source metadata filter'.split(' ');
      const wr = rng(9);
      const docs = Array.from({ length: 200 }, (_, d) => ({ id: `doc${d}`, text: Array.from({ length: 400 }, () => words[Math.floor(wr() * words.length)]).join(' ') }));
      const t0 = performance.now();
      let chunks = 0;
      for (let b = 0; b < docs.length; b += 50) {
        const out = await engine.addDocuments('bench', { collection: 'e2e', documents: docs.slice(b, b + 50), split: { chunkSize: 500, chunkOverlap: 50 } });
        chunks += out.job.chunksWritten;
      }
      const s = (performance.now() - t0) / 1000;
      console.log(`\ningest end to end (split + hash-terms-v2 + LanceDB + keyword index), 200 docs of ~2.8 kB: ${chunks} chunks in ${s.toFixed(2)} s = ${(chunks / s).toFixed(0)} chunks/s`);
    }

    let done = 0;
    for (const n of SIZES.sort((a, b) => a - b)) {
      console.log(`\n== ${n.toLocaleString('en')} records x ${DIM}-d ==`);
      const name = `vec${n}`;
      await store.createCollection('bench', { name, dimension: DIM, distance: 'cosine', embeddingModel: '', description: '', metadata: {} });
      const t0 = performance.now();
      const BATCH = 5000;
      for (let b = 0; b < n; b += BATCH) {
        const recs: StoredRecord[] = [];
        for (let i = b; i < Math.min(n, b + BATCH); i++) recs.push({ id: `r${String(i).padStart(7, '0')}`, text: `chunk ${i}`, metadata: { shard: i % 8 }, vector: data[i]! });
        await store.upsert('bench', name, recs);
      }
      const ingestS = (performance.now() - t0) / 1000;
      console.log(`LanceDB ingest (batches of ${BATCH}): ${(n / ingestS).toFixed(0)} records/s`);
      done = n;
      const sub = data.slice(0, n);

      // Ground truth and the brute-force timing come from the same pass.
      const truth: number[][] = [];
      const bruteLat: number[] = [];
      for (const q of queries) {
        const s0 = performance.now();
        truth.push(exactTopK(sub, q, K));
        bruteLat.push(performance.now() - s0);
      }
      bruteLat.sort((a, b) => a - b);
      const brute = { p50: pct(bruteLat, 50), p99: pct(bruteLat, 99), qps: 1000 / (bruteLat.reduce((a, b) => a + b, 0) / Q) };
      const line = (label: string, t: { p50: number; p99: number; qps: number }, rec: string, vsUsearch?: number) =>
        console.log(`${label.padEnd(36)} p50 ${fmt(t.p50).padStart(9)}  p99 ${fmt(t.p99).padStart(9)}  ${t.qps.toFixed(0).padStart(6)} q/s  ${(t.qps / brute.qps).toFixed(1).padStart(6)}x brute${vsUsearch ? `  ${(100 * vsUsearch).toFixed(0)}% of usearch q/s` : ''}  recall@10 ${rec}`);
      line('exact brute force (JS, baseline)', brute, '1.000');

      const toIdx = (id: string): number => Number(id.slice(1));
      const lanceSearch = (i: number, filter?: boolean) =>
        store.searchVector('bench', name, { vector: queries[i]!, k: K, includeVectors: false, ...(filter && { filter: { where: { kind: 'cmp' as const, field: 'shard', op: '$eq' as const, value: K_FILTER_SHARD } } }) });
      {
        const found: number[][] = [];
        for (let i = 0; i < Q; i++) found.push((await lanceSearch(i)).map((h) => toIdx(h.record.id)));
        line('LanceDB exact flat scan', await timeQueries(Q, (i) => lanceSearch(i)), recall(found, truth).toFixed(3));
      }
      const filteredTruth: number[][] = [];
      for (let i = 0; i < Q; i++) filteredTruth.push((await lanceSearch(i, true)).map((h) => toIdx(h.record.id)));

      const tb = performance.now();
      await store.buildVectorIndex('bench', name);
      const buildS = (performance.now() - tb) / 1000;
      const graph = store.hnswGraph('bench', name)!;
      console.log(`HNSW build (usearch, M ${graph.params.connectivity}, efC ${graph.params.expansionAdd}, ef ${graph.params.expansionSearch}, all cores): ${buildS.toFixed(1)} s = ${(n / buildS).toFixed(0)} inserts/s`);

      const { raw: rawT, ours: oursT, cpuRatio, minRatio } = await pairedRawVsOurs(graph, queries);
      const rawFound = queries.map((q) => Array.from(graph.native.search(q, K, 1).keys, (key) => toIdx(graph.idOfKey(key)!)));
      const oursFound = queries.map((q) => graph.search(q, K).map((h) => toIdx(h.id)));
      line('raw usearch (native index)', rawT, recall(rawFound, truth).toFixed(3), 1);
      line('HNSW (our layer, ids)', oursT, recall(oursFound, truth).toFixed(3), oursT.qps / rawT.qps);
      console.log(`  our layer / raw usearch, paired over ${ROUNDS} rounds: ${(100 * cpuRatio).toFixed(1)}% of usearch q/s by CPU time, ${(100 * minRatio).toFixed(1)}% by fastest round per query`);
      const rawBest = rawT;
      {
        const found: number[][] = [];
        for (let i = 0; i < Q; i++) found.push((await lanceSearch(i)).map((h) => toIdx(h.record.id)));
        const t = await timeQueries(Q, (i) => lanceSearch(i));
        line('LanceStore.searchVector (HNSW+rows)', t, recall(found, truth).toFixed(3), t.qps / rawBest.qps);
      }
      {
        const found: number[][] = [];
        for (let i = 0; i < Q; i++) found.push((await lanceSearch(i, true)).map((h) => toIdx(h.record.id)));
        const t = await timeQueries(Q, (i) => lanceSearch(i, true));
        line(`  + filter shard = ${K_FILTER_SHARD} (1/8 of rows)`, t, `${recall(found, filteredTruth).toFixed(3)} (vs exact filtered)`);
      }
      if (values.ivfpq && n >= 50_000) {
        const ivf = new LanceStore({ dir, annThreshold: Number.POSITIVE_INFINITY, annIndex: 'ivf_pq' });
        const ti = performance.now();
        await ivf.buildVectorIndex('bench', name);
        console.log(`LanceDB IVF_PQ build: ${((performance.now() - ti) / 1000).toFixed(1)} s`);
        const found: number[][] = [];
        const s = (i: number) => ivf.searchVector('bench', name, { vector: queries[i]!, k: K, includeVectors: false });
        for (let i = 0; i < Q; i++) found.push((await s(i)).map((h) => toIdx(h.record.id)));
        line('LanceDB IVF_PQ (nprobes 20, refine 10)', await timeQueries(Q, s), recall(found, truth).toFixed(3));
        await ivf.close();
      }
    }
    void done;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
