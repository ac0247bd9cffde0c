/**
 * Typed stage wrappers over the ONNX sessions. Each `run()` takes plain typed arrays and shapes and
 * returns plain typed arrays (row-major), so services never touch onnxruntime tensors directly.
 */
import type { MiniCPMVConfig } from '../checkpoint/config.js';
import { packSlices, resamplerPosEmbed, temporalPosEmbed, type SlicePixels } from '../navit.js';
import { checkLength, f32, i64, toI64, type StageSession } from './stage-session.js';

export interface VisionInputs {
  /** [batch, 3, 14, numPatches·14] */
  pixelValues: Float32Array;
  /** [batch, numPatches]: 1 real, 0 padding (numbers, bigints or booleans). */
  patchAttentionMask: ArrayLike<number | bigint | boolean>;
  /** [batch, numPatches] */
  positionIds: ArrayLike<number | bigint>;
  batch: number;
  numPatches: number;
}

export interface SliceFeatures {
  /** (rows, cols) of patches. */
  tgtSize: [number, number];
  /** [rows·cols, vision_hidden] */
  features: Float32Array;
}

const maskToI64 = (m: ArrayLike<number | bigint | boolean>): BigInt64Array => {
  if (m instanceof BigInt64Array) return m;
  const out = new BigInt64Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = m[i] ? 1n : 0n;
  return out;
};

export class VisionStage {
  constructor(
    readonly session: StageSession,
    private readonly cfg: MiniCPMVConfig,
    /** Slices per ONNX call in encodeSlices (config vision_batch_size, 16 for 2.6). */
    readonly batchSize = 16,
  ) {}

  get hiddenSize(): number {
    return this.cfg.vision.hiddenSize;
  }

  async run(x: VisionInputs): Promise<{ lastHiddenState: Float32Array; dims: [number, number, number] }> {
    const { batch: B, numPatches: P } = x;
    const ps = this.cfg.vision.patchSize;
    checkLength('pixel_values', x.pixelValues.length, B * this.cfg.vision.numChannels * ps * P * ps);
    checkLength('patch_attention_mask', x.patchAttentionMask.length, B * P);
    checkLength('position_ids', x.positionIds.length, B * P);
    const out = await this.session.runFeeds({
      pixel_values: f32(x.pixelValues, [B, this.cfg.vision.numChannels, ps, P * ps]),
      patch_attention_mask: i64(maskToI64(x.patchAttentionMask), [B, P]),
      position_ids: i64(toI64(x.positionIds), [B, P]),
    });
    return { lastHiddenState: out.last_hidden_state.data as Float32Array, dims: [B, P, this.cfg.vision.hiddenSize] };
  }

  /** Preprocessed slices → per-slice patch features (padding stripped), in `batchSize` chunks. */
  async encodeSlices(slices: SlicePixels[]): Promise<SliceFeatures[]> {
    const out: SliceFeatures[] = [];
    const D = this.cfg.vision.hiddenSize;
    for (let i = 0; i < slices.length; i += this.batchSize) {
      const packed = packSlices(slices.slice(i, i + this.batchSize), this.cfg.vision.patchSize, this.cfg.vision.positionsPerSide, this.cfg.vision.numChannels);
      const { lastHiddenState } = await this.run(packed);
      packed.tgtSizes.forEach(([h, w], b) => {
        const start = b * packed.numPatches * D;
        out.push({ tgtSize: [h, w], features: lastHiddenState.slice(start, start + h * w * D) });
      });
    }
    return out;
  }
}

export interface ResamplerInputs {
  /** [batch, numPatches, vision_hidden], zero or anything in padded rows. */
  visionEmbeds: Float32Array;
  /** (rows, cols) per batch row; rows·cols ≤ numPatches. */
  tgtSizes: Array<[number, number]>;
  numPatches: number;
}

export class ResamplerStage {
  constructor(
    readonly session: StageSession,
    private readonly cfg: MiniCPMVConfig,
  ) {}

  get queryNum(): number {
    return this.cfg.resampler.queryNum;
  }
  get embedDim(): number {
    return this.cfg.resampler.embedDim;
  }

  /** → image_embeds [batch, 64, llm_hidden]. Builds the key mask and 2D sin-cos positions from tgtSizes. */
  async run(x: ResamplerInputs): Promise<{ imageEmbeds: Float32Array; dims: [number, number, number] }> {
    x.tgtSizes.forEach(([h, w], b) => {
      if (h * w > x.numPatches || h <= 0 || w <= 0) throw new RangeError(`tgtSizes[${b}] = ${h}x${w} does not fit numPatches ${x.numPatches}`);
    });
    return this.runRows(x.visionEmbeds, x.tgtSizes.map(([h, w]) => [{ h, w, t: -1 }]), x.numPatches);
  }

  /**
   * One batch row per frame group: the row's frames are concatenated on the patch axis (features, key
   * mask) and each frame's key positions are P2D(h, w) + T(temporal id) — MiniCPM-V 4.5's 3D resampler,
   * which is the 2D graph with a longer key axis (resampler.py adds T to the keys only). id -1 = image.
   */
  private async runRows(visionEmbeds: Float32Array, rows: Array<Array<{ h: number; w: number; t: number }>>, P: number): Promise<{ imageEmbeds: Float32Array; dims: [number, number, number] }> {
    const B = rows.length;
    const D = this.cfg.resampler.embedDim;
    checkLength('vision_embeds', visionEmbeds.length, B * P * this.cfg.resampler.kvDim);
    const mask = new BigInt64Array(B * P);
    const pos = new Float32Array(B * P * D);
    rows.forEach((frames, b) => {
      let off = b * P;
      for (const { h, w, t } of frames) {
        const p2 = resamplerPosEmbed(h, w, D);
        const tp = temporalPosEmbed(t, D);
        for (let p = 0; p < h * w; p++) {
          mask[off + p] = 1n;
          for (let d = 0; d < D; d++) pos[(off + p) * D + d] = p2[p * D + d] + tp[d];
        }
        off += h * w;
      }
    });
    const out = await this.session.runFeeds({
      vision_embeds: f32(visionEmbeds, [B, P, this.cfg.resampler.kvDim]),
      patch_attention_mask: i64(mask, [B, P]),
      pos_embed: f32(pos, [B, P, D]),
    });
    return { imageEmbeds: out.image_embeds.data as Float32Array, dims: [B, this.cfg.resampler.queryNum, D] };
  }

  /** Per-slice features (from VisionStage.encodeSlices) → one [64, llm_hidden] block per slice. */
  async resampleSlices(slices: SliceFeatures[], batchSize = 16): Promise<Float32Array[]> {
    return this.resampleGroups(slices.map((s) => ({ frames: [s], temporalIds: [-1] })), batchSize);
  }

  /**
   * Frame groups (4.5 video: up to `packing` consecutive frames with their temporal ids, upstream
   * `temporal_ids` groups) → one [64, llm_hidden] block per group. A group of one frame with id -1 is an
   * image crop. Groups are batched (`batchSize` per call), padded to the longest group.
   */
  async resampleGroups(groups: Array<{ frames: SliceFeatures[]; temporalIds: number[] }>, batchSize = 16): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const Dv = this.cfg.resampler.kvDim;
    const QD = this.cfg.resampler.queryNum * this.cfg.resampler.embedDim;
    groups.forEach((g, i) => {
      if (g.frames.length === 0 || g.frames.length !== g.temporalIds.length) throw new RangeError(`groups[${i}]: ${g.frames.length} frames and ${g.temporalIds.length} temporal ids (need the same count, >= 1)`);
    });
    for (let i = 0; i < groups.length; i += batchSize) {
      const chunk = groups.slice(i, i + batchSize);
      const len = (g: (typeof chunk)[number]): number => g.frames.reduce((a, f) => a + f.tgtSize[0] * f.tgtSize[1], 0);
      const P = Math.max(...chunk.map(len));
      const emb = new Float32Array(chunk.length * P * Dv);
      chunk.forEach((g, b) => {
        let off = b * P * Dv;
        for (const f of g.frames) {
          emb.set(f.features, off);
          off += f.features.length;
        }
      });
      const rows = chunk.map((g) => g.frames.map((f, j) => ({ h: f.tgtSize[0], w: f.tgtSize[1], t: g.temporalIds[j]! })));
      const { imageEmbeds } = await this.runRows(emb, rows, P);
      for (let b = 0; b < chunk.length; b++) out.push(imageEmbeds.slice(b * QD, (b + 1) * QD));
    }
    return out;
  }
}

export class EmbedStage {
  constructor(
    readonly session: StageSession,
    private readonly vocabSize: number,
  ) {}

  /** input_ids [batch, seq] → inputs_embeds [batch, seq, hidden]. */
  async run(inputIds: ArrayLike<number | bigint>, dims: [number, number]): Promise<Float32Array> {
    checkLength('input_ids', inputIds.length, dims[0] * dims[1]);
    const ids = toI64(inputIds);
    const V = BigInt(this.vocabSize);
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] < 0n || ids[i] >= V) throw new RangeError(`input_ids[${i}] = ${ids[i]} is outside the vocabulary [0, ${V})`);
    }
    const out = await this.session.runFeeds({ input_ids: i64(ids, dims) });
    return out.inputs_embeds.data as Float32Array;
  }
}

/** Index of the largest value in row `b` of a [batch, n] array (greedy decoding). */
export function argmaxRow(logits: Float32Array, b: number, n: number): number {
  let best = 0;
  let bv = -Infinity;
  const o = b * n;
  for (let i = 0; i < n; i++) {
    if (logits[o + i] > bv) {
      bv = logits[o + i];
      best = i;
    }
  }
  return best;
}
