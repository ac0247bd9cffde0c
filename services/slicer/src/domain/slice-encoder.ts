/**
 * Domain: image bytes + options → slice plan + per-slice SigLIP patch features.
 * Decoding, slicing and pixel preprocessing run per request; the vision forward is micro-batched
 * across concurrent requests (an image's overview and slices stay together in one call).
 */
import { performance } from 'node:perf_hooks';
import {
  MicroBatcher,
  planSlices,
  planTokens,
  PreprocessPool,
  readImageHeader,
  resolveTokenMode,
  validateSliceOptions,
  type ImageLimits,
  type Normalization,
  type SliceOptions,
  type SlicePlan,
  type SlicingFamily,
  type TokenMode,
} from '@tessera/vision';

/** What the slicer needs from @tessera/model's VisionStage. */
export interface VisionEncoder {
  readonly hiddenSize: number;
  encodeSlices(slices: { data: Float32Array; height: number; width: number }[]): Promise<{ tgtSize: [number, number]; features: Float32Array }[]>;
}

export interface SliceEncoderSettings {
  limits: ImageLimits;
  normalization: Normalization;
  /** Model defaults (preprocessor_config.json) for unset request options. */
  defaults: SliceOptions;
  batchWindowMs: number;
  maxBatch: number;
  /** Worker threads for decode + resize + normalise (0 = on the event loop). */
  preprocessWorkers: number;
  /** PNG/JPEG images up to this many pixels skip the workers (PreprocessPool's default when unset). */
  preprocessInlineMaxPixels?: number;
  /**
   * MiniCPM-V family (default 2.6). 4.6 has no resampler: its vision stage ends at the LLM width, so
   * the "features" of a crop are its visual tokens and their count depends on `downsampleMode`.
   */
  family?: SlicingFamily;
}

export interface EncodedSlice {
  /** [patch rows, patch cols] */
  tgtSize: [number, number];
  /** [rows·cols, vision hidden] float32 */
  features: Float32Array;
}

export interface EncodeResult {
  plan: SlicePlan;
  /** 4.6: visual tokens per image (overview first); undefined for 2.6 (queryNum each, after the resampler). */
  tokensPerImage?: number[];
  slices: EncodedSlice[];
  preprocessMs: number;
  encodeMs: number;
}

type Pixels = { data: Float32Array; height: number; width: number };

export class SliceEncoder {
  readonly batcher: MicroBatcher<Pixels, EncodedSlice>;
  /** One batcher per token mode (4.6): a vision call runs one mode, so requests batch within their mode. */
  private readonly modeBatchers = new Map<TokenMode, MicroBatcher<Pixels, EncodedSlice>>();
  readonly pool: PreprocessPool;

  constructor(
    private readonly vision: VisionEncoder,
    readonly settings: SliceEncoderSettings,
    /** 4.6: the vision stage in each token mode. */
    modeVision: Partial<Record<TokenMode, VisionEncoder>> = {},
  ) {
    this.batcher = new MicroBatcher((items) => this.vision.encodeSlices(items), { windowMs: settings.batchWindowMs, maxBatch: settings.maxBatch });
    for (const [mode, v] of Object.entries(modeVision) as Array<[TokenMode, VisionEncoder]>) {
      this.modeBatchers.set(mode, new MicroBatcher((items) => v.encodeSlices(items), { windowMs: settings.batchWindowMs, maxBatch: settings.maxBatch }));
    }
    this.pool = new PreprocessPool(settings.preprocessWorkers, settings.preprocessInlineMaxPixels);
  }

  get family(): SlicingFamily {
    return this.settings.family ?? '2.6';
  }

  /** Vision tower width: the second dimension of every feature tensor. */
  get hiddenSize(): number {
    return this.vision.hiddenSize;
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** Request options over model defaults, validated against the limits. */
  options(requested: Partial<SliceOptions>): SliceOptions {
    const o: Partial<SliceOptions> = { ...this.settings.defaults };
    if (requested.maxSliceNums !== undefined) o.maxSliceNums = requested.maxSliceNums;
    if (requested.scaleResolution !== undefined) o.scaleResolution = requested.scaleResolution;
    // A mode the family does not have → INVALID_ARGUMENT naming downsample_mode (2.6 has none).
    const mode = resolveTokenMode(this.family, requested.downsampleMode ?? o.downsampleMode);
    if (mode) o.downsampleMode = mode;
    else delete o.downsampleMode;
    return validateSliceOptions(o, this.settings.limits);
  }

  /** 4.6: visual tokens per image of a plan in the options' mode; undefined for 2.6. */
  tokensPerImage(plan: SlicePlan, o: SliceOptions): number[] | undefined {
    return o.downsampleMode ? planTokens(plan, this.family, o.downsampleMode, o.patchSize) : undefined;
  }

  /** Header only: no pixels decoded, no model. */
  async plan(bytes: Uint8Array, requested: Partial<SliceOptions>): Promise<SlicePlan> {
    const o = this.options(requested);
    const h = await readImageHeader(bytes, this.settings.limits);
    return planSlices(h.width, h.height, o);
  }

  /** `plan`: the caller's plan (the gateway's, made at admission), checked and cut as is; unset = plan here. */
  async encode(bytes: Uint8Array, requested: Partial<SliceOptions>, signal?: AbortSignal, plan?: SlicePlan): Promise<EncodeResult> {
    const o = this.options(requested);
    const t0 = performance.now();
    const prepared = await this.pool.prepare(bytes, o, this.settings.limits, this.settings.normalization, plan);
    const pixels = prepared.images.map((img, k) => ({ data: prepared.pixels![k], height: img.height, width: img.width }));
    const t1 = performance.now();
    let slices: EncodedSlice[];
    try {
      signal?.throwIfAborted();
      const mode = o.downsampleMode;
      const batcher = mode ? this.modeBatchers.get(mode) : this.batcher;
      if (!batcher) throw new Error(`no vision encoder for downsample_mode ${mode}`);
      slices = await batcher.submit(pixels, signal);
    } finally {
      // submit settles only once the model call that read the pixels is over (or they were dropped
      // unread), so their block can go back to the pool for the next image (issue 19: no 24 MB of
      // fresh memory per 2 MP image).
      this.pool.recycle(prepared.pixels);
    }
    const t2 = performance.now();
    const tokensPerImage = this.tokensPerImage(prepared.plan, o);
    return { plan: prepared.plan, ...(tokensPerImage && { tokensPerImage }), slices, preprocessMs: t1 - t0, encodeMs: t2 - t1 };
  }
}
