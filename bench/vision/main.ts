/**
 * Vision path benchmark: `npx tsx bench/vision/main.ts` (env: TESSERA_MODEL_DIR = a built model,
 * default the tiny model; BENCH_RUNS = repetitions, default 3; TESSERA_INTRA_OP_THREADS, default 1;
 * TESSERA_PREPROCESS_WORKERS, default 2; BENCH_SECTIONS, default pil,sizes,batching,cache; BENCH_SIZES for the pil section, default 0.3,2,12).
 *
 * 0. preprocessing vs the HF processor in Python PIL + numpy (pil-baseline.ts), per size and format;
 * 1. per image size (0.3, 2, 12 MP JPEG): decode + slice + preprocess ms, vision encode ms per slice,
 *    resample ms per slice (medians);
 * 2. throughput, 8 concurrent images vs one at a time through the micro-batched encoder + resampler;
 * 3. encoder cache: hit latency vs miss latency (miss = the full pipeline + store), real nats-server.
 * Every number is printed next to its baseline from the same run; nothing here is asserted.
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { connect } from 'nats';
import sharp from 'sharp';
import { ensureTinyModel, openModel } from '@tessera/model';
import { startNatsServer } from '@tessera/testing';
import { DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION, DEFAULT_SLICE_OPTIONS, EncoderCache, prepareImage, toChannelFirst } from '@tessera/vision';
import { ResampleBatcher } from '@tessera/resampler';
import { SliceEncoder } from '@tessera/slicer';
import { comparePreprocessingWithPil } from './pil-baseline.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

/** A photo-like JPEG: smooth gradients plus texture, so decode and resize do real work. */
async function photo(w: number, h: number, seed: number): Promise<Buffer> {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const t = Math.sin((x + seed * 31) * 0.013) * Math.cos(y * 0.021);
      b[i] = 128 + 100 * t + ((x * y + seed) & 15);
      b[i + 1] = (x * 255) / w;
      b[i + 2] = (y * 255) / h + ((x ^ y) & 7);
    }
  }
  return sharp(b, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 88 }).toBuffer();
}

async function main(): Promise<void> {
  const sections = (process.env.BENCH_SECTIONS ?? 'pil,sizes,batching,cache').split(',');
  if (sections.includes('pil')) {
    await comparePreprocessingWithPil(Number(process.env.BENCH_RUNS ?? 5));
    console.log('');
  }
  if (!sections.some((s) => s !== 'pil')) return;
  const dir = process.env.TESSERA_MODEL_DIR ?? (await ensureTinyModel());
  const threads = Number(process.env.TESSERA_INTRA_OP_THREADS ?? 1);
  const model = await openModel(dir, { intraOpNumThreads: threads, allowSpinning: false });
  await model.load(['vision', 'resampler']);
  console.log(`model ${dir} (vision hidden ${model.config.vision.hiddenSize}, ${model.config.vision.numLayers} layers; llm hidden ${model.config.llm.hiddenSize}); intra-op threads ${threads}; ${RUNS} runs, medians\n`);
  const limits = { ...DEFAULT_IMAGE_LIMITS, maxPixels: 50_000_000 };
  const workers = Number(process.env.TESSERA_PREPROCESS_WORKERS ?? 2);
  const settings = { limits, normalization: DEFAULT_NORMALIZATION, defaults: DEFAULT_SLICE_OPTIONS, batchWindowMs: 5, maxBatch: 16, preprocessWorkers: workers };

  // 1. per image size
  if (sections.includes('sizes')) {
    console.log('| image | slices | decode+slice+preprocess ms | vision ms / slice | resample ms / slice |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const [label, w, h] of [['0.3 MP 640×480', 640, 480], ['2 MP 1920×1080', 1920, 1080], ['12 MP 4000×3000', 4000, 3000]] as const) {
      const jpg = await photo(w, h, 1);
      const pre: number[] = [];
      const enc: number[] = [];
      const res: number[] = [];
      let n = 0;
      for (let r = 0; r < RUNS; r++) {
        const t0 = performance.now();
        const p = await prepareImage(jpg, {}, limits);
        const pixels = p.images.map((im) => ({ data: toChannelFirst(im.rgb, im.width, im.height, DEFAULT_NORMALIZATION), height: im.height, width: im.width }));
        const t1 = performance.now();
        const feats = await model.vision.encodeSlices(pixels);
        const t2 = performance.now();
        await model.resampler.resampleSlices(feats);
        const t3 = performance.now();
        n = pixels.length;
        pre.push(t1 - t0);
        enc.push((t2 - t1) / n);
        res.push((t3 - t2) / n);
      }
      console.log(`| ${label} | 1+${n - 1} | ${fmt(median(pre))} | ${fmt(median(enc))} | ${fmt(median(res))} |`);
    }
  }

  // 2. micro-batching: 8 images one at a time vs all 8 concurrently (0.3 MP each: overview + 1 slice)
  const encoder = new SliceEncoder(model.vision, settings);
  await encoder.pool.ready();
  console.log(`\npreprocessing on ${workers} worker thread(s) (TESSERA_PREPROCESS_WORKERS)`);
  const resampler = new ResampleBatcher(model.resampler, { windowMs: 5, maxBatch: 16 });
  const pipeline = async (img: Buffer) => {
    const e = await encoder.encode(img, {});
    return resampler.resample(e.slices);
  };
  if (sections.includes('batching')) {
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => photo(640, 480, 10 + i)));
    await pipeline(images[0]); // warm-up
    const seq: number[] = [];
    const par: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      let t = performance.now();
      for (const img of images) await pipeline(img);
      seq.push(performance.now() - t);
      const callsBefore = encoder.batcher.stats.calls;
      t = performance.now();
      await Promise.all(images.map(pipeline));
      par.push(performance.now() - t);
      if (r === 0) console.log(`\n8 concurrent images → ${encoder.batcher.stats.calls - callsBefore} vision calls`);
    }
    const ips = (ms: number) => (8 / ms) * 1000;
    console.log(`throughput one at a time: ${fmt(ips(median(seq)))} images/s (baseline)`);
    console.log(`throughput 8 concurrent:  ${fmt(ips(median(par)))} images/s → ${(median(seq) / median(par)).toFixed(2)}× (micro-batching + preprocessing overlap)`);
  }

  // 3. encoder cache hit vs miss (2 MP image), real nats-server
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    const cache = await EncoderCache.open(nc, { bucket: 'bench-encoder-cache' });
    const img = await photo(1920, 1080, 3);
    const miss: number[] = [];
    const hit: number[] = [];
    const hitRead: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const key = { modelRevision: model.manifest.revision, tenant: 'bench', imageSha256: `${r}`.padStart(64, '0'), maxSliceNums: 9, scaleResolution: 448 };
      let t = performance.now();
      if (await cache.lookup(key)) throw new Error('unexpected hit');
      const e = await encoder.encode(img, {});
      const tokens = await resampler.resample(e.slices);
      await cache.store(key, new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength), { dtype: 'float32', shape: [e.slices.length, 64, model.config.llm.hiddenSize], plan: e.plan });
      miss.push(performance.now() - t);
      // What the gateway does on a hit: lookup only, the ObjectRef goes to the decoder (which reads
      // the tokens on a miss just the same). The read is shown separately.
      t = performance.now();
      const entry = await cache.lookup(key);
      if (!entry) throw new Error('expected a hit');
      hit.push(performance.now() - t);
      const bytes = await cache.read(entry);
      if (!bytes) throw new Error('expected the tokens');
      hitRead.push(performance.now() - t);
    }
    console.log(`\nencoder cache miss (slice + encode + resample + store): ${fmt(median(miss))} ms (baseline)`);
    console.log(`encoder cache hit (lookup → ObjectRef, the gateway's path): ${fmt(median(hit))} ms → miss/hit = ${(median(miss) / median(hit)).toFixed(1)}×`);
    console.log(`encoder cache hit + reading the tokens:                     ${fmt(median(hitRead))} ms → miss/(hit+read) = ${(median(miss) / median(hitRead)).toFixed(1)}×`);
  } finally {
    await nc.close();
    await nats.stop();
    await encoder.close();
    await model.release();
  }
}

// The services run with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (deploy/): decoding a 12 MP image
// allocates ~36 MB that glibc maps fresh each time, and without transparent huge pages the page faults
// cost more than the JPEG decode itself (docs/decisions.md, issue 19). glibc reads tunables only at
// process start, so the bench re-runs itself with the same setting unless BENCH_NO_REEXEC is set.
if (!process.env.GLIBC_TUNABLES && !process.env.BENCH_NO_REEXEC) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' } });
  process.exit(r.status ?? 1);
}
await main();
