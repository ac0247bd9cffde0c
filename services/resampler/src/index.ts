export { createResamplerService, type ResamplerServiceDeps, type ResamplerImpl } from './service.js';
export { ResampleBatcher, type GroupInput, type ResamplerModel, type SliceInput } from './domain/resample-batcher.js';
export { openResampler, type OpenedResampler } from './adapters/open-resampler.js';
export { schema as resamplerConfigSchema, loadResamplerConfig, type ResamplerConfig } from './config.js';
export { composeResampler } from './compose.js';
