/**
 * Mesa's lavapipe (a software Vulkan GPU) for the WebGPU execution provider on machines without a GPU:
 * scripts/ensure-lavapipe.sh (run by `npm test`) writes its Vulkan ICD manifest here. The GPU tests and
 * bench/decoder/gpu.ts use it when no GPU provider is requested, so the GPU path runs everywhere.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

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
