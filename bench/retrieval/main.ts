/**
 * Retrieval benchmark, all on the same synthetic vectors in one run:
 *  - ingest: records/s into the LanceDB store (vectors given), and chunks/s end to end
 *    (split → hashing embedder → store) through RetrievalEngine.addDocuments;
 *  - query p50/p99 (k = 10, one at a time) at 10k records (exact flat scan: below the default ANN
 *    threshold) and at 100k (IVF_PQ index with the service defaults: ~√n partitions, dim/8
 *    sub-vectors, nprobes 20, refine ×10);
 *  - recall@10 of the index against exact search, with an exact brute-force JS baseline (the
 *    ratio denominator) and usearch 2.26.2 HNSW (defaults) as the other embedded library.
 * Data: see makeSpace (synthetic — no embedding model weights are reachable here); queries are
 * drawn from the same distribution.
 *
 * Run time: a few minutes on a quiet 2-core machine; at load average ~20 (the shared development
 * machine during this project) over 15 minutes, mostly the IVF_PQ and HNSW builds.
 *
 *   npx tsx bench/retrieval/main.ts [--dim 128] [--queries 100] [--sizes 10000,100000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { HashingEmbedder, LanceStore, RetrievalEngine, type StoredRecord } from '@tessera/retrieval';

const { values } = parseArgs({ options: { dim: { type: 'string', default: '128' }, queries: { type: 'string', default: '100' }, sizes: { type: 'string', default: '10000,100000' } } });
const DIM = Number(values.dim);
const Q = Number(values.queries);
const SIZES = values.sizes!.split(',').map(Number);
const K = 10;

type USearch = typeof import('usearch');
const usearch = createRequire(import.meta.url)('usearch') as USearch;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

async function timeQueries(n: number, run: (i: number) => Promise<unknown> | unknown): Promise<{ p50: number; p99: number; qps: number }> {
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

const recall = (found: number[][], truth: number[][]) => found.reduce((s, f, i) => s + f.filter((x) => truth[i]!.includes(x)).length, 0) / (truth.length * K);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-retrieval-'));
  const space = makeSpace(1);
  const maxN = Math.max(...SIZES);
  const data = mixture(maxN, 2, space);
  const queries = mixture(Q, 3, space);
  console.log(`retrieval bench: dim ${DIM}, queries ${Q}, k ${K}, sizes ${SIZES.join(', ')} (node ${process.version})`);
  const store = new LanceStore({ dir, annThreshold: Number.POSITIVE_INFINITY });
  try {
    // ---- end-to-end ingestion: split → hashing embedder → store ----------------------------
    {
      const engine = new RetrievalEngine({ store, embedders: [new HashingEmbedder({ dimension: DIM })] });
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
      console.log(`\ningest end to end (split + hash-embed + LanceDB), 200 docs of ~2.8 kB: ${chunks} chunks in ${s.toFixed(2)} s = ${(chunks / s).toFixed(0)} chunks/s`);
    }

    let done = 0;
    await store.createCollection('bench', { name: 'vec', dimension: DIM, distance: 'cosine', embeddingModel: '', description: '', metadata: {} });
    for (const n of SIZES.sort((a, b) => a - b)) {
      console.log(`\n== ${n.toLocaleString('en')} records ==`);
      const t0 = performance.now();
      const BATCH = 5000;
      for (let b = done; b < n; b += BATCH) {
        const recs: StoredRecord[] = [];
        for (let i = b; i < Math.min(n, b + BATCH); i++) recs.push({ id: `r${String(i).padStart(7, '0')}`, text: `chunk ${i}`, metadata: { shard: i % 8 }, vector: data[i]! });
        await store.upsert('bench', 'vec', recs);
      }
      const ingestS = (performance.now() - t0) / 1000;
      console.log(`LanceDB ingest ${(n - done).toLocaleString('en')} records (batches of ${BATCH}): ${((n - done) / ingestS).toFixed(0)} records/s`);
      done = n;
      const sub = data.slice(0, n);

      // Ground truth and the brute-force timing come from the same pass (it is the slowest part).
      const truth: number[][] = [];
      const bruteLat: number[] = [];
      for (const q of queries) {
        const s0 = performance.now();
        truth.push(exactTopK(sub, q, K));
        bruteLat.push(performance.now() - s0);
      }
      bruteLat.sort((a, b) => a - b);
      const brute = { p50: pct(bruteLat, 50), p99: pct(bruteLat, 99), qps: 1000 / (bruteLat.reduce((a, b) => a + b, 0) / Q) };
      console.log(`exact brute force (JS, baseline):  p50 ${fmt(brute.p50)}  p99 ${fmt(brute.p99)}  ${brute.qps.toFixed(0)} q/s`);

      const toIdx = (id: string): number => Number(id.slice(1));
      const runLance = async (label: string) => {
        const found: number[][] = [];
        for (let i = 0; i < Q; i++) found.push((await store.searchVector('bench', 'vec', { vector: queries[i]!, k: K, includeVectors: false })).map((h) => toIdx(h.record.id)));
        const t = await timeQueries(Q, (i) => store.searchVector('bench', 'vec', { vector: queries[i]!, k: K, includeVectors: false }));
        console.log(`${label.padEnd(34)} p50 ${fmt(t.p50)}  p99 ${fmt(t.p99)}  ${t.qps.toFixed(0)} q/s  (${(brute.p50 / t.p50).toFixed(2)}x brute p50)  recall@10 ${recall(found, truth).toFixed(3)}`);
      };
      await runLance('LanceDB exact (flat scan):');
      if (n >= 50_000) {
        const ti = performance.now();
        await store.buildVectorIndex('bench', 'vec');
        console.log(`LanceDB IVF_PQ build: ${((performance.now() - ti) / 1000).toFixed(1)} s`);
        await runLance('LanceDB IVF_PQ (service defaults):');
      }
      const filtered = await timeQueries(Q, (i) => store.searchVector('bench', 'vec', { vector: queries[i]!, k: K, includeVectors: false, filter: { where: { kind: 'cmp', field: 'shard', op: '$eq', value: 3 } } }));
      console.log(`LanceDB + filter shard = 3 (1/8):  p50 ${fmt(filtered.p50)}  p99 ${fmt(filtered.p99)}`);

      // 0 = the library defaults (expansion_add 128, expansion_search 64).
      const index = new usearch.Index(DIM, usearch.MetricKind.Cos, usearch.ScalarKind.F32, 16, 0, 0);
      const tu = performance.now();
      const flat = new Float32Array(n * DIM);
      sub.forEach((v, i) => flat.set(v, i * DIM));
      index.add(BigUint64Array.from({ length: n }, (_, i) => BigInt(i)), flat);
      const uBuild = (performance.now() - tu) / 1000;
      const uFound: number[][] = [];
      const u = await timeQueries(Q, (i) => index.search(queries[i]!, K, 1));
      for (let i = 0; i < Q; i++) uFound.push(Array.from(index.search(queries[i]!, K, 1).keys, Number));
      console.log(`usearch HNSW build (M16, defaults): ${uBuild.toFixed(1)} s = ${(n / uBuild).toFixed(0)} inserts/s`);
      console.log(`${'usearch HNSW search:'.padEnd(34)} p50 ${fmt(u.p50)}  p99 ${fmt(u.p99)}  ${u.qps.toFixed(0)} q/s  (${(brute.p50 / u.p50).toFixed(2)}x brute p50)  recall@10 ${recall(uFound, truth).toFixed(3)}`);
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
