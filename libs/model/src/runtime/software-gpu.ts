/**
 * Helpers for running the GPU path in tests and benches. Mesa's lavapipe (a software Vulkan GPU) for
 * the WebGPU execution provider on machines without a GPU: scripts/ensure-lavapipe.sh (run by
 * `npm test`) writes its Vulkan ICD manifest here. The GPU tests and bench/decoder/gpu.ts use it when no
 * GPU provider is requested, so the GPU path runs everywhere. And a hold on the WebGPU device, for
 * callers that release every model and open the next in one process.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import onnxPkg from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/graph-builder.js';
import { WeightSink } from '../onnx/weight-sink.js';
import { sessionOptions, type ExecutionProvider } from './runtime-options.js';

export const SOFTWARE_GPU_ICD = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tessera', 'lavapipe', 'lvp_icd.json');

/**
 * Points Vulkan's loader at lavapipe (read at Dawn's first adapter request, so call it before the first
 * WebGPU session). Throws, naming the setup script, when lavapipe is not set up.
 */
export function useSoftwareGpu(): string {
  if (!existsSync(SOFTWARE_GPU_ICD)) {
    throw new Error(`no software GPU: ${SOFTWARE_GPU_ICD} is missing — run \`bash scripts/ensure-lavapipe.sh\` (npm test does: Mesa's lavapipe), or set TESSERA_EXECUTION_PROVIDER=webgpu on a machine with a GPU`);
  }
  process.env.VK_ICD_FILENAMES = SOFTWARE_GPU_ICD;
  return SOFTWARE_GPU_ICD;
}

export interface DeviceHold {
  release(): Promise<void>;
}

/**
 * Keeps onnxruntime's WebGPU device (context, buffer manager, Dawn device) alive until release(): the
 * EP destroys it with the last session that uses it and the next session builds a new one, and a
 * process that does that between models (the GPU test opens and releases five) aborted once in CI
 * inside onnxruntime-node 1.30 (`unique_ptr<webgpu::BufferManager>` null, right after the first
 * re-creation). A serving process opens its model once, so this is for tests and benches. The EP's own
 * `preserveDevice` entry would do the same, but the Node binding refuses it as an EP option and applies
 * session config entries only after the EP exists. A no-op for other providers.
 */
export async function holdGpuDevice(ep: ExecutionProvider): Promise<DeviceHold> {
  if (ep !== 'webgpu') return { release: async () => {} };
  const g = new GraphBuilder('device_hold', new WeightSink(null));
  const value = { dataType: onnxPkg.onnx.TensorProto.DataType.FLOAT, dims: [1], rawData: new Uint8Array(4) };
  g.output(g.op('ConstantOfShape', [g.constI64([1])], { value }), 'zero', 'float32', [1]);
  const session = await ort.InferenceSession.create(g.toBytes('tessera: holds the WebGPU device'), sessionOptions({ executionProvider: 'webgpu' }));
  return { release: () => session.release() };
}
