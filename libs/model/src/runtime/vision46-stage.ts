/**
 * The 4.6 vision stage over its ONNX session: crops (normalised, sides multiples of 56 px) and a
 * token mode in, one [tokens, llm_hidden] block per crop out — the merger output the decoder
 * scatters into the `<|image_pad|>` slots (there is no resampler in 4.6).
 */
import * as ort from 'onnxruntime-node';
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { DownsampleMode, Vision46Config } from '../checkpoint/vision46-config.js';
import type { SlicePixels } from '../navit.js';
import { packCrops46, type Vision46Feeds } from '../vision46-layout.js';
import { f32, i64, type StageSession } from './stage-session.js';

export class Vision46Stage {
  constructor(
    readonly session: StageSession,
    readonly cfg: Vision46Config,
    /** Crops per ONNX call (config vision_batch_size, default 16). */
    readonly batchSize = 16,
  ) {}

  get outputWidth(): number {
    return this.cfg.llmHiddenSize;
  }

  /** Refuses a mode this checkpoint does not serve, naming the field. */
  checkMode(mode: string): DownsampleMode {
    if (!(this.cfg.modes as readonly string[]).includes(mode)) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `downsample_mode ${JSON.stringify(mode)} is not served by this model (modes: ${this.cfg.modes.join(', ')})`, { field: 'downsample_mode', limit: this.cfg.modes.join('|') });
    }
    return mode as DownsampleMode;
  }

  /** Runs one packed batch → image_embeds [B, Q2, llm_hidden]. */
  async run(x: Vision46Feeds): Promise<Float32Array> {
    const v = this.cfg.vision;
    const B = x.batch;
    const out = await this.session.runFeeds({
      pixel_values: f32(x.pixelValues, [B, v.numChannels, v.patchSize, x.numPatches * v.patchSize]),
      patch_attention_mask: i64(x.patchAttentionMask, [B, x.numPatches]),
      position_ids: i64(x.positionIds, [B, x.numPatches]),
      use_vit_merger: new ort.Tensor('bool', Uint8Array.of(x.useVitMerger ? 1 : 0), []),
      window_index: i64(x.windowIndex, [B, x.windowTokens, 4]),
      tail_attention_mask: i64(x.tailAttentionMask, [B, x.tailTokens]),
      merge_index: i64(x.mergeIndex, [B, x.outputTokens, 4]),
    });
    return out.image_embeds.data as Float32Array;
  }

  /** Crops → per-crop merger output, padding stripped, in `batchSize` chunks. */
  async encodeCrops(crops: SlicePixels[], mode: DownsampleMode): Promise<Float32Array[]> {
    this.checkMode(mode);
    const E = this.cfg.llmHiddenSize;
    const out: Float32Array[] = [];
    for (let i = 0; i < crops.length; i += this.batchSize) {
      const feeds = packCrops46(crops.slice(i, i + this.batchSize), mode, this.cfg.vision.patchSize, this.cfg.vision.positionsPerSide, this.cfg.vision.numChannels);
      const y = await this.run(feeds);
      feeds.tokens.forEach((n, b) => {
        const start = b * feeds.outputTokens * E;
        out.push(y.slice(start, start + n * E));
      });
    }
    return out;
  }
}
