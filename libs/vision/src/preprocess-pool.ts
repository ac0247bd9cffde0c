/**
 * A small pool of worker threads running `prepareImage`/`preparePixels`, so decoding and the
 * PIL-exact resize (~50 + ~80 ms of CPU for a 12 MP JPEG) neither block the event loop nor
 * serialise concurrent requests on one core. size 0 runs inline (tests, CLI). Errors come back as the same TesseraError.
 *
 * Small images run on the caller's thread (`inlineMaxPixels`, from the PNG/JPEG header) while no
 * other image is running there: for a 0.3 MP JPEG (~5–10 ms in all) the two thread hand-offs and the
 * wake-up of a sleeping worker were 0.5–0.7 ms of wall time (docs/decisions.md, issue 19, "pix"),
 * while the caller's thread is blocked only for the resize + normalise (decoding runs on libuv's
 * pool either way): ~3 ms at 0.3 MP. A second image arriving meanwhile goes to a worker, so a burst
 * still spreads over the cores.
 */
import { Worker } from 'node:worker_threads';
import { TesseraError, type ErrorCode, type ErrorDetails } from '@tessera/errors';
import type { ImageLimits } from './limits.js';
import type { Normalization } from './preprocessor-config.js';
import { sniffImageSize } from './decode-image.js';
import { pixelBlockOf, recycleBlock } from './pixel-blocks.js';
import { prepareImage, preparePixels, type PreparedImage } from './preprocess.js';
import type { SliceOptions, SlicePlan } from './slice-plan.js';
import { warmUpPreprocessing } from './warm-up.js';

/**
 * The worker thread's entry. Compiled (the images run dist/*.js) the body is plain JavaScript; from the
 * TypeScript sources (tsx, vitest, benchmarks) a .mjs shim registers tsx first, then loads the body.
 */
const WORKER_ENTRY = import.meta.url.endsWith('.js') ? new URL('./preprocess-worker-main.js', import.meta.url) : new URL('./preprocess-worker.mjs', import.meta.url);

/** With `normalization`: `pixels` holds float32 [3, H, W] per image and `images[k].rgb` is empty. */
export type PooledImage = Omit<PreparedImage, 'sha256'> & { sha256?: string; pixels?: Float32Array[] };

type Reply = { id: number; ok: true; result: PooledImage } | { id: number; ok: false; error: { code: ErrorCode; message: string; details: ErrorDetails } };

/**
 * Default of `inlineMaxPixels`: 640×480 (0.3 MP) and up to ~800×600 run on the caller's thread,
 * blocking it ~3–5 ms (resize + normalise; measured in docs/decisions.md); 2 MP and up go to the
 * workers, where the hand-off is small against the work and the pool path measured faster.
 */
export const DEFAULT_INLINE_MAX_PIXELS = 500_000;

export interface PreprocessPoolOptions {
  /**
   * Images of at most this many pixels (PNG/JPEG header; other formats always go to a worker) run
   * on the caller's thread when no other image is running there. 0 = always a worker.
   */
  inlineMaxPixels?: number;
}

interface Slot {
  worker: Worker;
  busy: number;
  ready: Promise<void>;
}

export class PreprocessPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve(r: PooledImage): void; reject(e: unknown): void; slot: Slot }>();
  private seq = 0;
  /** Blocks that came from the workers: only these are transferred back (never a caller's buffer). */
  private readonly blocks = new WeakSet<ArrayBuffer>();
  /** Blocks of images prepared on this thread: recycled here. */
  private readonly inlineBlocks = new WeakSet<ArrayBuffer>();
  /** Images being prepared on this thread right now (at most one when the pool has workers). */
  private inlineActive = 0;
  private closed = false;
  readonly inlineMaxPixels: number;
  /** Images prepared on this thread and by the workers (tests, the bench). */
  readonly stats = { here: 0, workers: 0 };
  private warm: Promise<void> | undefined;

  constructor(
    readonly size: number,
    options: PreprocessPoolOptions = {},
  ) {
    this.inlineMaxPixels = options.inlineMaxPixels ?? DEFAULT_INLINE_MAX_PIXELS;
    if (!(Number.isInteger(this.inlineMaxPixels) && this.inlineMaxPixels >= 0)) throw new RangeError(`PreprocessPool: inlineMaxPixels must be an integer >= 0, got ${this.inlineMaxPixels}`);
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_ENTRY);
    worker.unref();
    let markReady!: () => void;
    const slot: Slot = { worker, busy: 0, ready: new Promise<void>((r) => (markReady = r)) };
    worker.on('message', (m: Reply | { ready: true }) => {
      if ('ready' in m) {
        markReady();
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      p.slot.busy--;
      if (m.ok) {
        const block = m.result.pixels && pixelBlockOf(m.result.pixels);
        if (block) this.blocks.add(block);
        p.resolve(m.result);
      }
      else p.reject(new TesseraError(m.error.code, m.error.message, m.error.details));
    });
    worker.on('error', (err) => this.fail(slot, err));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(slot, new Error(`preprocess worker exited with ${code}`));
    });
    return slot;
  }

  /** A crashed worker fails only its own jobs and is replaced. */
  private fail(slot: Slot, err: unknown): void {
    for (const [id, p] of this.pending) {
      if (p.slot !== slot) continue;
      this.pending.delete(id);
      p.reject(new TesseraError('INTERNAL', 'image preprocessing worker failed', {}, { cause: err }));
    }
    const i = this.slots.indexOf(slot);
    if (i >= 0 && !this.closed) {
      void slot.worker.terminate();
      this.slots[i] = this.spawn();
    }
  }

  /** Resolves once every worker has loaded its modules; call at service start so the first request does not pay for it. */
  async ready(): Promise<void> {
    // Small images run here too: warm this thread's path (kernels tiered up, resize helper started).
    if (this.size > 0 && this.inlineMaxPixels > 0) this.warm ??= warmUpPreprocessing().catch(() => undefined);
    await Promise.all([...this.slots.map((s) => s.ready), this.warm]);
  }

  /** Whether `bytes` runs on this thread: no workers, or a small PNG/JPEG while this thread is free. */
  private runsHere(bytes: Uint8Array): boolean {
    if (this.size === 0) return true;
    if (this.inlineMaxPixels === 0 || this.inlineActive > 0) return false;
    const h = sniffImageSize(bytes);
    return !!h && h.width * h.height <= this.inlineMaxPixels;
  }

  private async prepareHere(bytes: Uint8Array, options: Partial<SliceOptions>, limits: ImageLimits, normalization?: Normalization, plan?: SlicePlan): Promise<PooledImage> {
    this.inlineActive++;
    this.stats.here++;
    try {
      const p = normalization ? await preparePixels(bytes, options, limits, normalization, plan) : await prepareImage(bytes, options, limits);
      const block = 'pixels' in p && pixelBlockOf(p.pixels);
      if (block) this.inlineBlocks.add(block);
      return p;
    } finally {
      this.inlineActive--;
    }
  }

  /** `plan` (with `normalization` only): the caller's plan, checked and cut instead of planning again. */
  async prepare(bytes: Uint8Array, options: Partial<SliceOptions>, limits: ImageLimits, normalization?: Normalization, plan?: SlicePlan): Promise<PooledImage> {
    if (this.closed && this.size > 0) throw new TesseraError('UNAVAILABLE', 'preprocess pool is closed');
    if (this.runsHere(bytes)) return this.prepareHere(bytes, options, limits, normalization, plan);
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    this.stats.workers++;
    const id = ++this.seq;
    slot.busy++;
    return new Promise<PooledImage>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot });
      // One copy, transferred: the caller keeps its buffer (it may be a view into a protobuf
      // message), and postMessage would otherwise clone the copy again (a 12 MP PNG is ~22 MB).
      const copy = new Uint8Array(bytes);
      slot.worker.postMessage({ id, bytes: copy, options, limits, normalization, plan }, [copy.buffer]);
    });
  }

  /**
   * Hands `pixels` of a `prepare` result back for reuse once the caller is done with them (they
   * must not be touched afterwards): the block goes back to a worker, transferred, not copied, or
   * to this thread's free blocks when the image was prepared here.
   */
  recycle(pixels: readonly Float32Array[] | undefined): void {
    const buffer = pixels && pixelBlockOf(pixels);
    if (!buffer) return;
    if (this.size === 0 || this.inlineBlocks.delete(buffer)) return recycleBlock(buffer);
    // Transferring detaches: a buffer that is not ours (e.g. a slab other Buffers live in) stays put.
    if (this.closed || !this.blocks.delete(buffer)) return;
    // The idlest worker: it is the likeliest to take the next image.
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    slot.worker.postMessage({ recycle: buffer }, [buffer]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const p of this.pending.values()) p.reject(new TesseraError('UNAVAILABLE', 'preprocess pool closed'));
    this.pending.clear();
  }
}
