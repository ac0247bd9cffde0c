/**
 * Decoder process: config → compose (model, engine, NATS, DecoderService) → startService (gRPC,
 * NATS, /metrics, graceful shutdown). Config keys in README.md.
 *   node services/decoder/dist/main.js   (development: node --import tsx services/decoder/src/main.ts)
 */
import { startService } from '@tessera/runtime';
import { composeDecoder } from './compose.js';
import { loadDecoderConfig } from './config.js';

const config = loadDecoderConfig();
await startService({ config, ...(await composeDecoder(config)) });
