/**
 * Slicer process: config → compose (model, NATS, SlicerService) → startService (gRPC :50052, the
 * TESSERA_SLICER work queue, /metrics, graceful shutdown).
 *   node services/slicer/dist/main.js   (development: node --import tsx services/slicer/src/main.ts)
 */
import { startService } from '@tessera/runtime';
import { composeSlicer } from './compose.js';
import { loadSlicerConfig } from './config.js';

const config = loadSlicerConfig();
await startService({ config, ...(await composeSlicer(config)) });
