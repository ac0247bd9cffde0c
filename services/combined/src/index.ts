/** @tessera/combined — several GPU stages (slicer, resampler, decoder) in one process. See README.md. */
export { loadCombinedConfig, schema as combinedConfigSchema, type CombinedConfig, type StageConfigs } from './config.js';
export { composeStage, type ComposedStage } from './compose.js';
export { startCombined, type CombinedHost, type StartCombinedOptions } from './start-combined.js';
export { STAGE_NAMES, PROCESS_ONLY_VARIABLES, stageEnv, stagePrefix, type StageName } from './stage-env.js';
