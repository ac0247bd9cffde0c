/**
 * Resampler process: config → compose (model, NATS, encoder cache, ResamplerService) → startService
 * (gRPC :50053, the TESSERA_RESAMPLER work queue, /metrics, graceful shutdown).
 *   node services/resampler/dist/main.js   (development: node --import tsx services/resampler/src/main.ts)
 */
import { startService } from '@tessera/runtime';
import { composeResampler } from './compose.js';
import { loadResamplerConfig } from './config.js';

const config = loadResamplerConfig();
await startService({ config, ...(await composeResampler(config)) });
