/**
 * The retrieval service as the service tests run it: a real nats-server, the engine opened from
 * config (its data in a fresh temp dir), RetrievalService bound to NATS request/reply and gRPC on a
 * free port, and a client per transport. `close()` stops all of it and removes the data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { retrievalV1 } from '@tessera/contracts';
import { grpcClient, hosted, natsClient, startService, type ServiceClient } from '@tessera/runtime';
import { startNatsServer } from '@tessera/testing';
import { loadRetrievalConfig } from '../config.js';
import { openEngine, type OpenedEngine } from '../compose.js';
import { createRetrievalService } from '../service.js';

export type RetrievalClient = ServiceClient<typeof retrievalV1.RetrievalServiceService>;

export interface RetrievalHarness {
  nats: RetrievalClient;
  grpc: RetrievalClient;
  opened: OpenedEngine;
  close(): Promise<void>;
}

/** `env`: extra config keys (e.g. TESSERA_RETRIEVAL_ANN_THRESHOLD). */
export async function startRetrievalHarness(env: Record<string, string> = {}): Promise<RetrievalHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'retrieval-svc-'));
  const server = await startNatsServer();
  const nc = await connect({ servers: server.url });
  const config = loadRetrievalConfig({ NATS_URL: server.url, TESSERA_GRPC_PORT: '0', TESSERA_METRICS_PORT: '0', TESSERA_DATA_DIR: dir, ...env });
  const opened = await openEngine(config);
  const host = await startService({
    config,
    nc,
    services: [hosted({ definition: retrievalV1.RetrievalServiceService, impl: createRetrievalService(opened.engine) })],
    handleSignals: false,
    metricsEndpoint: false,
    telemetry: { inMemory: true },
  });
  const nats = natsClient(nc, retrievalV1.RetrievalServiceService);
  const grpc = grpcClient(retrievalV1.RetrievalServiceService, `127.0.0.1:${host.grpcPort}`);
  return {
    nats,
    grpc,
    opened,
    async close() {
      nats.close();
      grpc.close();
      await host.shutdown();
      await opened.close();
      await nc.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
