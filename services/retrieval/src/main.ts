/**
 * Retrieval process: config → compose (LanceDB store, embedders, NATS, RetrievalService) →
 * startService (gRPC :50055, NATS request/reply, /metrics, graceful shutdown).
 *   node services/retrieval/dist/main.js   (development: node --import tsx services/retrieval/src/main.ts)
 */
import { startService } from '@tessera/runtime';
import { composeRetrieval } from './compose.js';
import { loadRetrievalConfig } from './config.js';

const config = loadRetrievalConfig();
await startService({ config, ...(await composeRetrieval(config)) });
