/** Test-only: the ImagePipeline settings the orchestrator tests share (the gateway defaults: 448-px slices, up to 9). */
import { DEFAULT_IMAGE_LIMITS } from '@tessera/vision';
import type { ImagePipelineOptions } from '../image-pipeline.js';

export const TEST_IMAGE_PIPELINE_OPTIONS: ImagePipelineOptions = {
  limits: { ...DEFAULT_IMAGE_LIMITS },
  scaleResolution: 448,
  defaultMaxSliceNums: 9,
  useImageId: true,
  remoteFetch: { timeoutMs: 1000, maxBytes: 1 << 20 },
};
