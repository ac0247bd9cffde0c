/**
 * MiniCPM-V 4.6 vision stage: the ONNX graph (one graph, both modes, padded batches of crops of
 * different shapes) against the per-crop float64 reference on a tiny seeded tower, plus the index
 * geometry, the token rule and the bad-checkpoint errors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cropTokenCount, parseVision46Config, type Vision46Config } from './checkpoint/vision46-config.js';
import { checkVision46Tensors, VISION46_TINY, vision46ConfigKeys, vision46ExpectedTensors } from './generate/vision46-tensors.js';
import { writeTinyVision46ModelDir } from './generate/vision46-tiny-dir.js';
import { readAnyManifest } from './manifest.js';
import { packSlices, type SlicePixels } from './navit.js';
import { referenceVision46 } from './reference/vision46-reference.js';
import { StageSession } from './runtime/stage-session.js';
import { runVision46StageRaw } from './runtime/vision46-run-stage.js';
import { Vision46Stage } from './runtime/vision46-stage.js';
import { mergeWindows, navitPositionIds46 } from './vision46-layout.js';
import { maxAbsDiff } from '@tessera/testing/vitest';

const TOL = 1e-4;
const LLM_HIDDEN = 48;
const RT = { intraOpNumThreads: 1, allowSpinning: false };

function crop(height: number, width: number, seed: number): SlicePixels {
  const data = new Float32Array(3 * height * width);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37 + seed) * 0.9;
  return { data, height, width };
}

const rawConfig = (): Record<string, unknown> => ({
  architectures: ['MiniCPMV4_6ForConditionalGeneration'],
  model_type: 'minicpmv4_6',
  ...vision46ConfigKeys(VISION46_TINY),
  text_config: { model_type: 'qwen3_5_text', hidden_size: LLM_HIDDEN },
});

let dir: string;
let cfg: Vision46Config;
let weights: Map<string, Float32Array>;
let stage: Vision46Stage;

beforeAll(async () => {
  cfg = parseVision46Config(rawConfig());
  dir = mkdtempSync(join(tmpdir(), 'vision46-'));
  // Just enough of a built model directory for run-stage (the 4.6 family build writes the rest).
  ({ weights } = writeTinyVision46ModelDir(dir, { seed: 7, llmHidden: LLM_HIDDEN }));
  const session = new StageSession('vision', dir, readAnyManifest(dir).stages.vision, RT);
  stage = new Vision46Stage(session, cfg, 3);
});
afterAll(async () => {
  await stage?.session.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('4.6 vision geometry', () => {
  it('merges 2x2 windows top-left, top-right, bottom-left, bottom-right in raster order', () => {
    expect(Array.from(mergeWindows(4, 4))).toEqual([0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
    expect(Array.from(mergeWindows(2, 4))).toEqual([0, 1, 4, 5, 2, 3, 6, 7]);
  });

  it('tokens per crop: (H/56)(W/56) in 16x, (H/28)(W/28) in 4x', () => {
    expect(cropTokenCount(448, 448, '16x')).toBe(64);
    expect(cropTokenCount(448, 448, '4x')).toBe(256);
    expect(cropTokenCount(336, 560, '16x')).toBe(60);
    expect(cropTokenCount(336, 560, '4x')).toBe(240);
  });

  it('position ids bucket i/n onto the 70-wide table (= floor(70 i / n) at crop sizes)', () => {
    for (const n of [4, 8, 24, 28, 32, 40, 44, 100]) {
      const ids = navitPositionIds46(1, n);
      expect(Array.from(ids)).toEqual(Array.from({ length: n }, (_, i) => Math.floor((70 * i) / n)));
    }
  });
});

describe('4.6 vision graph vs float64 reference', () => {
  // Non-square, different grids in one padded batch (batch size 3 → a second call of one crop).
  const crops = [crop(56, 112, 1), crop(112, 56, 2), crop(56, 56, 3), crop(112, 168, 4)];
  for (const mode of ['16x', '4x'] as const) {
    it(`${mode}: every crop matches, and a crop alone equals the same crop inside a padded batch`, async () => {
      const out = await stage.encodeCrops(crops, mode);
      for (let i = 0; i < crops.length; i++) {
        const c = crops[i];
        expect(out[i].length).toBe(cropTokenCount(c.height, c.width, mode) * LLM_HIDDEN);
        const ref = referenceVision46((n) => weights.get(n)!, cfg, c.data, c.height, c.width, mode);
        expect(maxAbsDiff(out[i], ref)).toBeLessThanOrEqual(TOL);
      }
      const alone = await stage.encodeCrops([crops[1]], mode);
      expect(maxAbsDiff(alone[0], out[1])).toBeLessThanOrEqual(1e-5);
    });
  }

  it('the two modes really differ (the window merger is on the 16x path only)', async () => {
    const [a] = await stage.encodeCrops([crop(112, 112, 5)], '16x');
    const [b] = await stage.encodeCrops([crop(112, 112, 5)], '4x');
    expect(a.length * 4).toBe(b.length);
  });

  it('refuses a mode it does not serve and a crop that is not a multiple of 56 px', async () => {
    await expect(stage.encodeCrops([crop(56, 56, 1)], '8x' as never)).rejects.toThrow(/downsample_mode "8x"/);
    await expect(stage.encodeCrops([crop(42, 56, 1)], '16x')).rejects.toThrow(/multiples of 56/);
  });
});

describe('4.6 run-stage (HF processor format)', () => {
  /** transformers' layout: every crop reshape_by_patch'ed, concatenated on the last axis → [1, 3, 14, L]. */
  function hfPack(crops: SlicePixels[]): { pixel_values: Float32Array; L: number; target_sizes: Int32Array } {
    const each = crops.map((c) => packSlices([c]));
    const L = each.reduce((a, p) => a + p.numPatches * 14, 0);
    const out = new Float32Array(3 * 14 * L);
    let off = 0;
    for (const p of each) {
      const Li = p.numPatches * 14;
      for (let row = 0; row < 3 * 14; row++) out.set(p.pixelValues.subarray(row * Li, (row + 1) * Li), row * L + off);
      off += Li;
    }
    return { pixel_values: out, L, target_sizes: Int32Array.from(each.flatMap((p) => p.tgtSizes[0])) };
  }

  it('pixel_values [1,3,14,L] + target_sizes → the concatenated per-crop reference, both modes', async () => {
    const crops = [crop(56, 112, 8), crop(112, 56, 9)];
    const hf = hfPack(crops);
    const inputs = {
      pixel_values: { dtype: 'float32' as const, shape: [1, 3, 14, hf.L], data: hf.pixel_values },
      target_sizes: { dtype: 'int32' as const, shape: [2, 2], data: hf.target_sizes },
    };
    for (const mode of ['16x', '4x'] as const) {
      const out = await runVision46StageRaw(dir, inputs, mode, RT);
      const refs = crops.map((c) => referenceVision46((n) => weights.get(n)!, cfg, c.data, c.height, c.width, mode));
      expect(out.image_embeds.shape).toEqual([refs.reduce((a, r) => a + r.length, 0) / LLM_HIDDEN, LLM_HIDDEN]);
      const ref = new Float64Array(refs.reduce((a, r) => a + r.length, 0));
      ref.set(refs[0]);
      ref.set(refs[1], refs[0].length);
      expect(maxAbsDiff(out.image_embeds.data as Float32Array, ref)).toBeLessThanOrEqual(TOL);
    }
    await expect(runVision46StageRaw(dir, inputs, '8x', RT)).rejects.toThrow(/downsample_mode "8x"/);
    await expect(runVision46StageRaw(dir, { pixel_values: inputs.pixel_values }, '16x', RT)).rejects.toThrow(/target_sizes/);
  });
});

describe('4.6 vision checkpoint errors', () => {
  it('a missing or misshapen merger tensor is named', () => {
    const shapes = new Map(vision46ExpectedTensors(cfg).map((t) => [t.name, t.shape]));
    shapes.delete('model.merger.mlp.0.linear_2.weight');
    expect(() => checkVision46Tensors(cfg, (n) => shapes.get(n), '/ckpt')).toThrow(/tensor model\.merger\.mlp\.0\.linear_2\.weight is missing/);
    const noVitMerger = new Map(vision46ExpectedTensors(cfg).map((t) => [t.name, t.shape]));
    noVitMerger.set('model.vision_tower.vit_merger.linear_1.weight', [1, 1]);
    expect(() => checkVision46Tensors(cfg, (n) => noVitMerger.get(n))).toThrow(/vit_merger\.linear_1\.weight has shape \[1,1\]/);
  });

  it('config fields outside what 4.6 defines are named', () => {
    const bad = (patch: Record<string, unknown>) => () => parseVision46Config({ ...rawConfig(), ...patch });
    expect(bad({ insert_layer_id: 3 })).toThrow(/insert_layer_id/);
    expect(bad({ merger_times: 2 })).toThrow(/merger_times/);
    expect(bad({ downsample_mode: '8x' })).toThrow(/downsample_mode/);
    expect(bad({ merge_kernel_size: [3, 3] })).toThrow(/merge_kernel_size/);
    expect(bad({ text_config: undefined })).toThrow(/text_config/);
  });
});
