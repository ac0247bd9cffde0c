/** Resampler configuration: the shared keys plus model, limits and micro-batching. */
import { bytes, commonServiceConfig, duration, encoderCacheConfig, int, loadConfig, oneOf, string, type ConfigOf } from '@tessera/config';

export const schema = {
  ...commonServiceConfig({ serviceName: 'resampler', grpcPort: 50053 }),
  ...encoderCacheConfig(),
  modelDir: string({ env: 'TESSERA_MODEL_DIR', optional: true, doc: 'built ONNX model directory (manifest.json); unset = the tiny test model, generated on first use' }),
  executionProvider: oneOf(['cpu', 'cuda', 'webgpu'], { env: 'TESSERA_EXECUTION_PROVIDER', default: 'cpu', doc: 'onnxruntime execution provider (webgpu: any Vulkan GPU through the bundled WebGPU EP; the decoder keeps KV on the device)' }),
  intraOpThreads: int({ env: 'TESSERA_INTRA_OP_THREADS', default: 1, min: 1, max: 256, doc: 'threads inside one ONNX op' }),
  maxSlices: int({ env: 'TESSERA_MAX_SLICES_PER_REQUEST', default: 37, min: 1, max: 65, doc: 'slices per Resample request (1 + max_slice_nums)' }),
  maxGroupFrames: int({ env: 'TESSERA_MAX_VIDEO_GROUP_FRAMES', default: 6, min: 1, max: 6, doc: 'MiniCPM-V 4.5 video: frames per 3D-resampler group (upstream packing, valid range 1..6)' }),
  maxTemporalId: int({ env: 'TESSERA_MAX_TEMPORAL_ID', default: 72000, min: 0, max: 10_000_000, doc: 'MiniCPM-V 4.5 video: largest temporal id (0.1-s units; 72000 = 2 h, the upstream resampler table)' }),
  maxPatchesPerSlice: int({ env: 'TESSERA_MAX_PATCHES_PER_SLICE', default: 4900, min: 1, max: 100_000, doc: 'patch_rows × patch_cols per slice (70×70 for 980 px)' }),
  batchWindow: duration({ env: 'TESSERA_BATCH_WINDOW', default: 5, min: 0, max: 1_000, doc: 'how long the first waiting request waits for others to share a resampler call' }),
  maxBatch: int({ env: 'TESSERA_MAX_BATCH', default: 16, min: 1, max: 256, doc: 'slices per resampler call across requests' }),
  outputDtype: oneOf(['float32', 'float16'], { env: 'TESSERA_VISUAL_TOKEN_DTYPE', default: 'float32', doc: 'dtype of the returned visual tokens' }),
  tensorRefThreshold: bytes({ env: 'TESSERA_TENSOR_REF_THRESHOLD', default: 256 * 1024, min: 1024, max: 1024 * 1024, doc: 'a visual-token tensor above this goes to the object store as an ObjectRef' }),
};

export type ResamplerConfig = ConfigOf<typeof schema>;

export function loadResamplerConfig(env: Readonly<Record<string, string | undefined>> = process.env): ResamplerConfig {
  return loadConfig(schema, env);
}
