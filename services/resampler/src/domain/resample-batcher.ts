/**
 * Domain: patch features → `queryNum` visual tokens per group in the LLM hidden size. A group is one
 * image slice (2.6 / 4.5 images) or up to 6 video frames with temporal ids (4.5's 3D resampler: the
 * frames share one query set). Groups of concurrent requests share one resampler call (micro-batching);
 * the stage pads each call to its longest group and masks the padding.
 */
import { MicroBatcher } from '@tessera/vision';

export interface SliceInput {
  tgtSize: [number, number];
  /** [rows·cols, vision hidden] float32 */
  features: Float32Array;
}

/** One resampler query set: frames (one for an image slice) and their temporal ids (-1 = image). */
export interface GroupInput {
  frames: SliceInput[];
  temporalIds: number[];
}

/** What the resampler needs from @tessera/model's ResamplerStage. */
export interface ResamplerModel {
  readonly queryNum: number;
  readonly embedDim: number;
  resampleGroups(groups: GroupInput[], batchSize?: number): Promise<Float32Array[]>;
}

export class ResampleBatcher {
  readonly batcher: MicroBatcher<GroupInput, Float32Array>;

  constructor(
    readonly model: ResamplerModel,
    o: { windowMs: number; maxBatch: number },
  ) {
    this.batcher = new MicroBatcher((items) => model.resampleGroups(items, o.maxBatch), { windowMs: o.windowMs, maxBatch: o.maxBatch });
  }

  /** Image slices → [slices, queryNum, embedDim] as one flat float32 array, slice order kept. */
  resample(slices: SliceInput[], signal?: AbortSignal): Promise<Float32Array> {
    return this.resampleGroups(slices.map((s) => ({ frames: [s], temporalIds: [-1] })), signal);
  }

  /** Groups → [groups, queryNum, embedDim], group order kept. */
  async resampleGroups(groups: GroupInput[], signal?: AbortSignal): Promise<Float32Array> {
    const blocks = await this.batcher.submit(groups, signal);
    const per = this.model.queryNum * this.model.embedDim;
    const out = new Float32Array(blocks.length * per);
    blocks.forEach((b, i) => out.set(b, i * per));
    return out;
  }
}
