/**
 * Preprocessing vs the HF MiniCPM-V processor in Python (PIL + numpy, hf_processor.py) on the same
 * images in the same run: bytes → normalised float32 [3, H, W] for the overview and every slice.
 * Ours is timed inline (preparePixels) and through a one-worker PreprocessPool (the slicer's path,
 * including the transfer back to the main thread). Pixels are compared by the sha256 of the
 * concatenated float32 arrays. Wall and CPU ms are medians (CPU = the whole process: libvips and
 * worker threads and V8's concurrent GC included). Ratios are PIL / ours for wall and for CPU: on the
 * shared 2-core machines (load average often 10–25) wall time mostly measures scheduling delays —
 * each thread hand-off (event loop → libuv pool for sharp → back, main → worker → back) waits for a
 * time slice that the single-threaded Python process does not need — so the CPU ratio is the one
 * to read there.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION, DEFAULT_SLICE_OPTIONS, PreprocessPool, preparePixels } from '@tessera/vision';

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

interface PyResult {
  ms: number[];
  cpu: number[];
  sha256: string;
}

function runPython(python: string, path: string, runs: number): PyResult {
  const script = fileURLToPath(new URL('./hf_processor.py', import.meta.url));
  const cfg = { images: [path], runs, max_slice_nums: DEFAULT_SLICE_OPTIONS.maxSliceNums, scale_resolution: DEFAULT_SLICE_OPTIONS.scaleResolution, patch_size: DEFAULT_SLICE_OPTIONS.patchSize, mean: DEFAULT_NORMALIZATION.mean, std: DEFAULT_NORMALIZATION.std };
  const r = spawnSync(python, [script], { input: JSON.stringify(cfg), encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`hf_processor.py failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n')[0]) as PyResult;
}

const hashPixels = (pixels: Float32Array[]) => {
  const h = createHash('sha256');
  for (const p of pixels) h.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  return h.digest('hex');
};

export async function comparePreprocessingWithPil(runs: number): Promise<void> {
  const py = findPython();
  const tunables = process.env.GLIBC_TUNABLES ?? '(unset)';
  console.log(`preprocessing vs the HF processor in PIL + numpy; GLIBC_TUNABLES=${tunables}; ${runs} runs, medians`);
  if ('tried' in py) console.log(`python3 with Pillow and numpy not found (tried ${py.tried.join(', ')}): PIL timings and ratios skipped (Debian: apt-get install python3-pil python3-numpy)`);
  else console.log(`baseline: ${py.python} (${py.versions}), bench/vision/hf_processor.py as a subprocess`);
  const limits = { ...DEFAULT_IMAGE_LIMITS, maxBytes: 64 * 1024 * 1024, maxPixels: 50_000_000 };
  const norm = DEFAULT_NORMALIZATION;
  const pool = new PreprocessPool(1);
  await pool.ready();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-vision-'));
  console.log('\n| image | pieces | ours inline ms (cpu) | ours via worker pool ms (cpu) | PIL+numpy ms (cpu) | PIL / ours wall (inline, pool) | PIL / ours CPU (inline, pool) | pixels |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  try {
    for (const [label, w, h] of [['0.3 MP 640×480', 640, 480], ['2 MP 1920×1080', 1920, 1080], ['12 MP 4000×3000', 4000, 3000]] as const) {
      const raw = sharp(photoRgb(w, h, 1), { raw: { width: w, height: h, channels: 3 } });
      for (const [format, bytes] of [['JPEG', await raw.clone().jpeg({ quality: 90 }).toBuffer()], ['PNG', await raw.clone().png().toBuffer()]] as const) {
        const path = join(dir, `${w}x${h}.${format.toLowerCase()}`);
        writeFileSync(path, bytes);
        const pyr = 'python' in py ? runPython(py.python, path, runs) : undefined;
        const wall: number[] = [];
        const cpu: number[] = [];
        const pooled: number[] = [];
        const pooledCpu: number[] = [];
        let pixels: Float32Array[] = [];
        await preparePixels(bytes, {}, limits, norm); // warm-up: kernels compiled, memory grown
        await pool.prepare(bytes, {}, limits, norm);
        for (let r = 0; r < runs; r++) {
          const c0 = cpuMs();
          const t0 = performance.now();
          pixels = (await preparePixels(bytes, {}, limits, norm)).pixels;
          wall.push(performance.now() - t0);
          cpu.push(cpuMs() - c0);
          const c1 = cpuMs();
          const t1 = performance.now();
          await pool.prepare(bytes, {}, limits, norm);
          pooled.push(performance.now() - t1);
          pooledCpu.push(cpuMs() - c1);
        }
        const ours = median(wall);
        const poolMs = median(pooled);
        const [oursCpu, poolCpu] = [median(cpu), median(pooledCpu)];
        const pyCol = pyr ? `${fmt(median(pyr.ms))} (${fmt(median(pyr.cpu))})` : 'n/a';
        const ratio = (py: number, a: number, b: number) => `${(py / a).toFixed(2)}×, ${(py / b).toFixed(2)}×`;
        const wallRatio = pyr ? ratio(median(pyr.ms), ours, poolMs) : 'n/a';
        const cpuRatio = pyr ? ratio(median(pyr.cpu), oursCpu, poolCpu) : 'n/a';
        const same = pyr ? (pyr.sha256 === hashPixels(pixels) ? 'identical' : 'DIFFERENT') : 'n/a';
        console.log(`| ${label} ${format} (${(bytes.length / 1e6).toFixed(1)} MB) | ${pixels.length} | ${fmt(ours)} (${fmt(oursCpu)}) | ${fmt(poolMs)} (${fmt(poolCpu)}) | ${pyCol} | ${wallRatio} | ${cpuRatio} | ${same} |`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await pool.close();
  }
}
