/**
 * Preprocessing vs the HF MiniCPM-V processor in Python (PIL + numpy, hf_processor.py) on the same
 * images in the same run: bytes → normalised float32 [3, H, W] for the overview and every slice.
 * Ours is timed inline (preparePixels) and through a one-worker PreprocessPool (the slicer's path,
 * including the transfer back to the main thread; as in the slicer, PNG/JPEG images up to
 * TESSERA_PREPROCESS_INLINE_MAX_PIXELS, default 0.4 MP, skip the worker); where that pool runs the
 * image on the calling thread, the worker path is timed too (a pool with threshold 0: the "worker"
 * column), so the hand-off it saves shows in the same run. All hand each run's pieces back for reuse,
 * as the slicer does after encoding (pixel-blocks.ts). Pixels are compared by the sha256 of the
 * concatenated float32 arrays, for every path. They run interleaved, round by round, with PIL as a
 * server subprocess (one image per request), so they see the same load. Cells: wall and CPU medians and the
 * best CPU (CPU = the whole process: libvips and worker threads and V8's concurrent GC included).
 * Ratios are PIL / ours for the same three: on the shared 2-core machines (load average often
 * 10–25) wall time mostly measures scheduling delays — each thread hand-off (event loop → libuv pool
 * for sharp → back, main → worker → back) waits for a time slice that the single-threaded Python
 * process does not need — and even CPU time inflates 2–3× when the sibling hyperthread is busy, so
 * the best-CPU ratio is the one to read there.
 */
import { createHash } from 'node:crypto';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import { DEFAULT_IMAGE_LIMITS, DEFAULT_INLINE_MAX_PIXELS, DEFAULT_NORMALIZATION, DEFAULT_SLICE_OPTIONS, PreprocessPool, preparePixels, recyclePixels, SYNC_JPEG_MAX_PIXELS, SYNC_PNG_MAX_PIXELS, threadResizer } from '@tessera/vision';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Photo-like pixels: smooth gradients plus a little texture, so decode and resize do real work. */
function photoRgb(w: number, h: number, seed: number): Buffer {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const t = Math.sin((x + seed * 31) * 0.013) * Math.cos(y * 0.021);
      b[i] = 128 + 100 * t + ((x * y + seed) & 7);
      b[i + 1] = (x * 255) / w;
      b[i + 2] = (y * 255) / h + ((x ^ y) & 3);
    }
  }
  return b;
}

/** The first python3 that imports PIL and numpy: $TESSERA_BENCH_PYTHON, python3, /usr/bin/python3. */
export function findPython(): { python: string; versions: string } | { tried: string[] } {
  const tried = [process.env.TESSERA_BENCH_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  for (const python of tried) {
    const r = spawnSync(python, ['-c', 'import PIL, numpy; print("Pillow", PIL.__version__, "numpy", numpy.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python, versions: r.stdout.trim() };
  }
  return { tried };
}

interface PyRun {
  ms: number;
  cpu: number;
  sha256: string;
}

/** hf_processor.py as a server: one image path per line in, one JSON result line out. */
class PilServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: { resolve(r: PyRun): void; reject(e: Error): void }[] = [];
  private stderr = '';

  constructor(python: string) {
    const script = fileURLToPath(new URL('./hf_processor.py', import.meta.url));
    this.child = spawn(python, [script], { stdio: 'pipe' });
    const cfg = { max_slice_nums: DEFAULT_SLICE_OPTIONS.maxSliceNums, scale_resolution: DEFAULT_SLICE_OPTIONS.scaleResolution, patch_size: DEFAULT_SLICE_OPTIONS.patchSize, mean: DEFAULT_NORMALIZATION.mean, std: DEFAULT_NORMALIZATION.std };
    this.child.stdin.write(`${JSON.stringify(cfg)}\n`);
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.child.stdout }).on('line', (line) => this.waiting.shift()?.resolve(JSON.parse(line) as PyRun));
    this.child.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`hf_processor.py exited (${code}): ${this.stderr}`));
    });
  }

  run(path: string): Promise<PyRun> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.stdin.write(`${path}\n`);
    });
  }

  close(): void {
    this.child.stdin.end();
  }
}

const hashPixels = (pixels: Float32Array[]) => {
  const h = createHash('sha256');
  for (const p of pixels) h.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  return h.digest('hex');
};

/** `BENCH_SIZES` picks sizes by label prefix, e.g. "0.3,2" (default all three). */
const SIZES = [['0.3 MP 640×480', 640, 480], ['2 MP 1920×1080', 1920, 1080], ['12 MP 4000×3000', 4000, 3000]] as const;

interface Samples {
  wall: number[];
  cpu: number[];
}
const samples = (): Samples => ({ wall: [], cpu: [] });
const cell = (s: Samples) => `${fmt(median(s.wall))}, ${fmt(median(s.cpu))} (${fmt(Math.min(...s.cpu))})`;
const ratios = (py: Samples, ours: Samples) => `${(median(py.wall) / median(ours.wall)).toFixed(2)}×, ${(median(py.cpu) / median(ours.cpu)).toFixed(2)}× (${(Math.min(...py.cpu) / Math.min(...ours.cpu)).toFixed(2)}×)`;

async function timed(s: Samples, f: () => Promise<unknown>): Promise<void> {
  const c0 = cpuMs();
  const t0 = performance.now();
  await f();
  s.wall.push(performance.now() - t0);
  s.cpu.push(cpuMs() - c0);
}

export async function comparePreprocessingWithPil(runs: number): Promise<void> {
  const py = findPython();
  const tunables = process.env.GLIBC_TUNABLES ?? '(unset)';
  const wanted = (process.env.BENCH_SIZES ?? '0.3,2,12').split(',');
  const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
  const inlineMax = Number(process.env.TESSERA_PREPROCESS_INLINE_MAX_PIXELS ?? DEFAULT_INLINE_MAX_PIXELS);
  console.log(`preprocessing vs the HF processor in PIL + numpy; GLIBC_TUNABLES=${tunables}; ${runs} rounds, interleaved (ours inline, PIL, ours via pool, ours via worker; pool inline up to ${inlineMax} px); load average ${load()} on ${availableParallelism()} CPUs`);
  if ('tried' in py) console.log(`python3 with Pillow and numpy not found (tried ${py.tried.join(', ')}): PIL timings and ratios skipped (Debian: apt-get install python3-pil python3-numpy)`);
  else console.log(`baseline: ${py.python} (${py.versions}), bench/vision/hf_processor.py as a server subprocess, one run per round`);
  console.log('cells: wall median, CPU median (CPU best) ms; ratios PIL / ours for the same three. Under load CPU time inflates too (shared cores): read the best-CPU ratio there.');
  const syncJpegMaxPixels = Number(process.env.TESSERA_PREPROCESS_SYNC_JPEG_MAX_PIXELS ?? SYNC_JPEG_MAX_PIXELS);
  const syncPngMaxPixels = Number(process.env.TESSERA_PREPROCESS_SYNC_PNG_MAX_PIXELS ?? SYNC_PNG_MAX_PIXELS);
  const limits = { ...DEFAULT_IMAGE_LIMITS, maxBytes: 64 * 1024 * 1024, maxPixels: 50_000_000, syncJpegMaxPixels, syncPngMaxPixels };
  const norm = DEFAULT_NORMALIZATION;
  const pool = new PreprocessPool(1, inlineMax);
  const workerPool = new PreprocessPool(1, 0);
  await Promise.all([pool.ready(), workerPool.ready()]);
  // The inline path's resize helper thread, started as the pool's workers start theirs in warm-up.
  const helper = await threadResizer().helperStarted();
  console.log(helper ? 'resize helper threads started (used while the 1-minute load average < CPUs + 0.5)' : 'resize on one thread (one CPU)');
  console.log(`JPEGs up to ${syncJpegMaxPixels} px decode in wasm on the calling thread (jpeg-sync.ts; TESSERA_PREPROCESS_SYNC_JPEG_MAX_PIXELS), plain PNGs up to ${syncPngMaxPixels} px with zlib there (png-sync.ts; TESSERA_PREPROCESS_SYNC_PNG_MAX_PIXELS), the rest with sharp`);
  const pil = 'python' in py ? new PilServer(py.python) : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-vision-'));
  console.log('\n| image | pieces | ours inline | ours via pool | ours via worker | PIL+numpy | PIL / ours inline | PIL / ours pool | PIL / ours worker | pixels |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  try {
    for (const [label, w, h] of SIZES.filter(([l]) => wanted.some((x) => l.startsWith(`${x} `)))) {
      const raw = sharp(photoRgb(w, h, 1), { raw: { width: w, height: h, channels: 3 } });
      for (const [format, bytes] of [['JPEG', await raw.clone().jpeg({ quality: 90 }).toBuffer()], ['PNG', await raw.clone().png().toBuffer()]] as const) {
        const path = join(dir, `${w}x${h}.${format.toLowerCase()}`);
        writeFileSync(path, bytes);
        const [inline, pooled, worker, pyS] = [samples(), samples(), samples(), samples()];
        let pixels: Float32Array[] = [];
        let pySha = '';
        // The worker column only where the pool does not use its worker anyway.
        const here = w * h <= inlineMax;
        const shas = new Set<string>();
        // Warm-up: kernels compiled, memory grown, PIL's modules loaded.
        await preparePixels(bytes, {}, limits, norm);
        await pool.prepare(bytes, {}, limits, norm);
        if (here) await workerPool.prepare(bytes, {}, limits, norm);
        await pil?.run(path);
        for (let r = 0; r < runs; r++) {
          // Each run's pieces go back for reuse, as the slicer hands them back after encoding.
          recyclePixels(pixels);
          await timed(inline, async () => (pixels = (await preparePixels(bytes, {}, limits, norm)).pixels));
          if (pil) {
            const p = await pil.run(path);
            pyS.wall.push(p.ms);
            pyS.cpu.push(p.cpu);
            pySha = p.sha256;
          }
          let fromPool: Float32Array[] | undefined;
          await timed(pooled, async () => (fromPool = (await pool.prepare(bytes, {}, limits, norm)).pixels));
          if (r === runs - 1) shas.add(hashPixels(fromPool!));
          pool.recycle(fromPool);
          if (here) {
            await timed(worker, async () => (fromPool = (await workerPool.prepare(bytes, {}, limits, norm)).pixels));
            if (r === runs - 1) shas.add(hashPixels(fromPool!));
            workerPool.recycle(fromPool);
          }
        }
        shas.add(hashPixels(pixels));
        const same = pil ? (shas.size === 1 && shas.has(pySha) ? 'identical' : 'DIFFERENT') : 'n/a';
        const pyCells = pil ? [cell(pyS), ratios(pyS, inline), ratios(pyS, pooled), here ? ratios(pyS, worker) : '= pool'] : ['n/a', 'n/a', 'n/a', 'n/a'];
        console.log(`| ${label} ${format} (${(bytes.length / 1e6).toFixed(1)} MB) | ${pixels.length} | ${cell(inline)} | ${cell(pooled)} | ${here ? cell(worker) : '= pool'} | ${pyCells.join(' | ')} | ${same} |`);
      }
    }
  } finally {
    console.log(`\nload average at the end: ${load()}`);
    rmSync(dir, { recursive: true, force: true });
    pil?.close();
    await Promise.all([pool.close(), workerPool.close()]);
  }
}
