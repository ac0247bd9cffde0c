/**
 * Domain: per-slice patch features → `queryNum` visual tokens per slice in the LLM hidden size.
 * Slices of concurrent requests share one resampler call (micro-batching); the stage pads each call
 * to its longest slice and masks the padding.
 */
import { MicroBatcher } from '@tessera/vision';

/** What the resampler needs from @tessera/model's ResamplerStage. */
export interface ResamplerModel {
  readonly queryNum: number;
  readonly embedDim: number;
  resampleSlices(slices: { tgtSize: [number, number]; features: Float32Array }[], batchSize?: number): Promise<Float32Array[]>;
}

export interface SliceInput {
  tgtSize: [number, number];
  /** [rows·cols, vision hidden] float32 */
  features: Float32Array;
}

export class ResampleBatcher {
  readonly batcher: MicroBatcher<SliceInput, Float32Array>;

  constructor(
    readonly model: ResamplerModel,
    o: { windowMs: number; maxBatch: number },
  ) {
    this.batcher = new MicroBatcher((items) => model.resampleSlices(items, o.maxBatch), { windowMs: o.windowMs, maxBatch: o.maxBatch });
  }

  /** → [slices, queryNum, embedDim] as one flat float32 array, slice order kept. */
  async resample(slices: SliceInput[], signal?: AbortSignal): Promise<Float32Array> {
    const blocks = await this.batcher.submit(slices, signal);
    const per = this.model.queryNum * this.model.embedDim;
    const out = new Float32Array(blocks.length * per);
    blocks.forEach((b, i) => out.set(b, i * per));
    return out;
  }
}
