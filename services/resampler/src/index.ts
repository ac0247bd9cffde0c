export { createResamplerService, type ResamplerServiceDeps, type ResamplerImpl } from './service.js';
export { ResampleBatcher, type ResamplerModel, type SliceInput } from './resample-batcher.js';
export { openResampler, type OpenedResampler } from './open-resampler.js';
export { schema as resamplerConfigSchema, loadResamplerConfig, type ResamplerConfig } from './config.js';
