export { createSlicerService, type SlicerServiceDeps, type SlicerImpl } from './service.js';
export { SliceEncoder, type SliceEncoderSettings, type VisionEncoder, type EncodeResult, type EncodedSlice } from './domain/slice-encoder.js';
export { openSlicer, type OpenedSlicer } from './adapters/open-slicer.js';
export { schema as slicerConfigSchema, loadSlicerConfig, type SlicerConfig } from './config.js';
export { composeSlicer } from './compose.js';
