/**
 * A small pool of worker threads running `prepareImage`/`preparePixels`, so decoding and the
 * PIL-exact resize (~50 + ~80 ms of CPU for a 12 MP JPEG) neither block the event loop nor
 * serialise concurrent requests on one core. size 0 runs inline (tests, CLI). Errors come back as the same TesseraError.
 */
import { Worker } from 'node:worker_threads';
import { TesseraError, type ErrorCode, type ErrorDetails } from '@tessera/errors';
import { sharpOnly, type ImageLimits } from './limits.js';
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

/**
 * Images up to this many pixels (from the PNG/JPEG header) are prepared on the caller's thread. A
 * worker round trip adds thread wake-ups (caller → worker → libuv → worker → caller); a 0.3 MP JPEG is
 * ~7 ms of work, and on the 2-core VMs waking an idle thread cost 0.3–1 ms each, which held the pooled
 * path at 1.45–1.5× PIL against ≥ 1.6× inline (bench/vision, issue 19). Inline blocks the event loop
 * for the synchronous resize + normalise: measured p50 2.9 ms (two threads) to 5.4 ms (one) at 0.3 MP,
 * 9.2 ms at 0.5 MP; a JPEG up to 0.5 MP is also decoded synchronously (jpeg-sync.ts, ~2 ms at 0.3 MP),
 * other formats on libuv's pool. 0.4 MP (640×480, 600×600, thumbnails)
 * keeps that stall near 5 ms; larger images, where the work dwarfs the hand-off, go to the workers.
 * Only one image at a time runs on the caller's thread: the next small one arriving meanwhile goes to
 * a worker, so a burst of thumbnails still spreads over the cores and stalls the event loop for one
 * image's resize at most, not the burst's.
 */
export const DEFAULT_INLINE_MAX_PIXELS = 400_000;

/**
 * Workers decode every image with sharp: the synchronous wasm JPEG decode (jpeg-sync.ts) is used on the
 * caller's thread only. In the workers it measured slower than sharp (bench/vision worker column, 0.3 MP
 * JPEG, six A/B pairs at load 3–6: CPU median 12–22 vs 9–16 ms) while inline it was faster (pool column
 * 6.7–10.4 vs 9.9–16 ms wall); an A/B of the workers alone agreed (wall median 14.7–19.0 vs 12.0–13.9 ms,
 * best CPU equal: slow phases of the wasm decoder, docs/decisions.md). The synchronous PNG decode
 * (png-sync.ts) follows it: it saves thread hand-offs, which a worker's own decode pays anyway, and by
 * default workers only get images over the inline limit (0.4 MP), mostly over its 0.5 MP limit too.
 * So jobs are posted with `sharpOnly(limits)`.
 */

type Reply = { id: number; ok: true; result: PooledImage } | { id: number; ok: false; error: { code: ErrorCode; message: string; details: ErrorDetails } };

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
  /** Blocks of images prepared inline: they go back to this thread's free list. */
  private readonly localBlocks = new WeakSet<ArrayBuffer>();
  /** Images being prepared on the caller's thread now (at most one while the pool has workers). */
  private inlineActive = 0;
  /** Images prepared on the caller's thread and by the workers (tests, the bench). */
  readonly stats = { inline: 0, workers: 0 };
  private warm: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly size: number,
    /** Images of at most this many pixels run on the caller's thread (see DEFAULT_INLINE_MAX_PIXELS; 0 = never). */
    readonly inlineMaxPixels = DEFAULT_INLINE_MAX_PIXELS,
  ) {
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
    // Small images run on this thread too: warm its path as the workers warm theirs (warm-up.ts),
    // so the first of them does not resize in baseline code without the resize helper thread.
    if (this.size > 0 && this.inlineMaxPixels > 0) this.warm ??= warmUpPreprocessing().catch(() => undefined);
    await Promise.all([...this.slots.map((s) => s.ready), this.warm]);
  }

  /** `plan` (with `normalization` only): the caller's plan, checked and cut instead of planning again. */
  async prepare(bytes: Uint8Array, options: Partial<SliceOptions>, limits: ImageLimits, normalization?: Normalization, plan?: SlicePlan): Promise<PooledImage> {
    if (this.closed && this.size > 0) throw new TesseraError('UNAVAILABLE', 'preprocess pool is closed');
    if (this.size === 0 || this.runsInline(bytes)) {
      this.stats.inline++;
      this.inlineActive++;
      try {
        if (!normalization) return await prepareImage(bytes, options, limits);
        const prepared = await preparePixels(bytes, options, limits, normalization, plan);
        const block = pixelBlockOf(prepared.pixels);
        if (block) this.localBlocks.add(block);
        return prepared;
      } finally {
        this.inlineActive--;
      }
    }
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    this.stats.workers++;
    const id = ++this.seq;
    slot.busy++;
    return new Promise<PooledImage>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot });
      // One copy, transferred: the caller keeps its buffer (it may be a view into a protobuf
      // message), and postMessage would otherwise clone the copy again (a 12 MP PNG is ~22 MB).
      const copy = new Uint8Array(bytes);
      slot.worker.postMessage({ id, bytes: copy, options, limits: sharpOnly(limits), normalization, plan }, [copy.buffer]);
    });
  }

  /**
   * Whether an image is small enough to skip the worker hand-off (header sniffed in JS; other formats
   * go to a worker) and the caller's thread is not already preparing one.
   */
  private runsInline(bytes: Uint8Array): boolean {
    if (this.inlineMaxPixels <= 0 || this.inlineActive > 0) return false;
    const header = sniffImageSize(bytes);
    return header !== undefined && header.width * header.height <= this.inlineMaxPixels;
  }

  /**
   * Hands `pixels` of a `prepare` result back for reuse once the caller is done with them (they
   * must not be touched afterwards): the block goes back to a worker, transferred, not copied.
   */
  recycle(pixels: readonly Float32Array[] | undefined): void {
    const buffer = pixels && pixelBlockOf(pixels);
    if (!buffer) return;
    if (this.size === 0 || this.localBlocks.delete(buffer)) return recycleBlock(buffer);
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
