/**
 * Combined process: several GPU stages in one process and pod, sharing one GPU (helm/tessera
 * `combined.enabled`). config (TESSERA_STAGES, each stage's environment with `<STAGE>__` overrides)
 * → startCombined (each stage's compose + startService, one /metrics, one signal handler).
 *   node services/combined/dist/main.js   (development: node --import tsx services/combined/src/main.ts)
 */
import { loadCombinedConfig } from './config.js';
import { startCombined } from './start-combined.js';

await startCombined(loadCombinedConfig());
