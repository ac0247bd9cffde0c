/**
 * `run-stage` for the 4.6 vision stage in the HF processor's own format, so its output can be
 * compared with any independent implementation without knowing our graph's index inputs:
 *   pixel_values  float32 [1, 3, 14, L]  every crop's patches, NaViT-packed and concatenated (reshape_by_patch)
 *   target_sizes  int32/int64 [N, 2]     (h, w) in patches per crop
 *   → image_embeds float32 [Σ tokens, llm_hidden]  = torch.cat(get_image_features(...).pooler_output)
 * The mode (16x / 4x) is an argument, as `downsample_mode` is in transformers.
 */
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { DownsampleMode } from '../checkpoint/vision46-config.js';
import type { SlicePixels } from '../navit.js';
import type { NdArray } from '../npy.js';
import { openVision46 } from './open-vision46.js';
import type { RuntimeOptions } from './runtime-options.js';

const bad = (field: string, msg: string): TesseraError => new TesseraError(ErrorCode.INVALID_ARGUMENT, `${field}: ${msg}`, { field });

/** Inverse of reshape_by_patch: [C, ps, L] packed crops → channel-first [C, H, W] crops. */
export function unpackHfPixels(pixelValues: NdArray, targetSizes: NdArray, patchSize: number, channels: number): SlicePixels[] {
  const ps = patchSize;
  const shape = pixelValues.shape;
  if (shape.length !== 4 || shape[0] !== 1 || shape[1] !== channels || shape[2] !== ps) throw bad('pixel_values', `shape must be [1, ${channels}, ${ps}, L] (got [${shape.join(', ')}])`);
  if (targetSizes.shape.length !== 2 || targetSizes.shape[1] !== 2) throw bad('target_sizes', `shape must be [N, 2] (got [${targetSizes.shape.join(', ')}])`);
  const L = shape[3];
  const src = pixelValues.data as ArrayLike<number>;
  const ts = Array.from(targetSizes.data as ArrayLike<number | bigint>, Number);
  const crops: SlicePixels[] = [];
  let patchBase = 0;
  for (let n = 0; n < targetSizes.shape[0]; n++) {
    const h = ts[2 * n];
    const w = ts[2 * n + 1];
    if (!(h > 0 && w > 0)) throw bad('target_sizes', `row ${n} is ${h}x${w}`);
    const H = h * ps;
    const W = w * ps;
    const data = new Float32Array(channels * H * W);
    for (let c = 0; c < channels; c++) for (let py = 0; py < ps; py++) {
      const row = (c * ps + py) * L;
      for (let p = 0; p < h * w; p++) {
        const r = Math.floor(p / w);
        const col = p % w;
        const from = row + (patchBase + p) * ps;
        const to = (c * H + r * ps + py) * W + col * ps;
        for (let x = 0; x < ps; x++) data[to + x] = Number(src[from + x]);
      }
    }
    crops.push({ data, height: H, width: W });
    patchBase += h * w;
  }
  if (patchBase * ps !== L) throw bad('target_sizes', `covers ${patchBase} patches but pixel_values holds ${L / ps}`);
  return crops;
}

/** Opens the built model's vision stage (4.6) and runs HF-format inputs through it. */
export async function runVision46StageRaw(modelDir: string, inputs: Record<string, NdArray>, mode: string | undefined, runtimeOpts: RuntimeOptions = {}): Promise<Record<string, NdArray>> {
  const opened = openVision46(modelDir, runtimeOpts);
  const { config: cfg, vision: stage } = opened;
  try {
    const m: DownsampleMode = stage.checkMode(mode ?? cfg.defaultMode);
    for (const name of ['pixel_values', 'target_sizes']) if (!inputs[name]) throw bad(name, 'input is missing (vision stage of MiniCPM-V 4.6 takes pixel_values [1, 3, 14, L] and target_sizes [N, 2])');
    const crops = unpackHfPixels(inputs.pixel_values, inputs.target_sizes, cfg.vision.patchSize, cfg.vision.numChannels);
    const out = await stage.encodeCrops(crops, m);
    const rows = out.reduce((a, b) => a + b.length, 0) / cfg.llmHiddenSize;
    const data = new Float32Array(rows * cfg.llmHiddenSize);
    let o = 0;
    for (const b of out) {
      data.set(b, o);
      o += b.length;
    }
    return { image_embeds: { dtype: 'float32', shape: [rows, cfg.llmHiddenSize], data } };
  } finally {
    await opened.release();
  }
}
