/**
 * The gateway process: config → compose (NATS, keys, quotas, orchestration, the HTTP server listening)
 * → startService (gRPC `tessera.gateway.v1`, /metrics, graceful shutdown) → ready.
 *   node services/gateway/dist/main.js   (development: node --import tsx services/gateway/src/main.ts)
 */
import { startService } from '@tessera/runtime';
import { composeGateway } from './compose.js';
import { loadGatewayConfig } from './config.js';

const config = loadGatewayConfig();
const { markReady, ...composition } = await composeGateway(config);
await startService({ config, ...composition });
markReady();
