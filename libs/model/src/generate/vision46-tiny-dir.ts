/**
 * A built-model directory holding ONLY the 4.6 vision stage (tiny seeded tower, VISION46_TINY): what
 * the slicer and run-stage need, for tests of the vision path that must not wait for the whole 4.6
 * build. Layout is the real one: config.json, preprocessor_config.json, manifest.json, vision.onnx.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toFloat32 } from '../checkpoint/dtype.js';
import { parseVision46Config } from '../checkpoint/vision46-config.js';
import { MANIFEST_FORMAT, MANIFEST_FORMAT_VERSION } from '../manifest.js';
import { GraphBuilder } from '../onnx/graph-builder.js';
import { buildVision46Graph } from '../onnx/vision46-graph.js';
import { WeightSink } from '../onnx/weight-sink.js';
import { tensorValues } from './generate-checkpoint.js';
import { VISION46_TINY, vision46ConfigKeys, vision46ExpectedTensors } from './vision46-tensors.js';

export function writeTinyVision46ModelDir(dir: string, opts: { seed?: number; llmHidden?: number } = {}): { config: Record<string, unknown>; weights: Map<string, Float32Array> } {
  mkdirSync(dir, { recursive: true });
  const config: Record<string, unknown> = {
    architectures: ['MiniCPMV4_6ForConditionalGeneration'],
    model_type: 'minicpmv4_6',
    ...vision46ConfigKeys(VISION46_TINY),
    text_config: { model_type: 'qwen3_5_text', hidden_size: opts.llmHidden ?? 48 },
    use_image_id: true,
  };
  const cfg = parseVision46Config(config);
  const weights = new Map(vision46ExpectedTensors(cfg).map((t) => [t.name, toFloat32(tensorValues(t, opts.seed ?? 7), 'BF16')]));
  const g = new GraphBuilder('tessera_vision', new WeightSink(null));
  buildVision46Graph(g, cfg, (n) => weights.get(n)!);
  g.save(join(dir, 'vision.onnx'));
  const vision = { file: 'vision.onnx', externalData: null, inputs: g.inputs, outputs: g.outputs, parameters: g.parameters, weightBytes: 0 };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], max_slice_nums: 9, scale_resolution: 448, patch_size: 14, downsample_mode: '16x' }, null, 2));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ format: MANIFEST_FORMAT, formatVersion: MANIFEST_FORMAT_VERSION, family: '4.6', revision: `tiny-vision46-${opts.seed ?? 7}`, stages: { vision } }, null, 2));
  return { config, weights };
}
