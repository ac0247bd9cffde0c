/**
 * Retrieval process: config → LanceDB store + embedders → RetrievalService bound to gRPC (:50055)
 * and NATS request/reply (tessera.retrieval.v1.RetrievalService.<Method>, queue group "retrieval").
 *   node --import tsx services/retrieval/src/main.ts
 */
import { PROTO_FILES, PROTO_ROOT, retrievalV1 } from '@tessera/contracts';
import { hosted, startService } from '@tessera/runtime';
import { loadRetrievalConfig } from './config.js';
import { openEngine } from './open-engine.js';
import { createRetrievalService } from './service.js';

const config = loadRetrievalConfig();
const opened = await openEngine(config);

await startService({
  config,
  services: [hosted({ definition: retrievalV1.RetrievalServiceService, impl: createRetrievalService(opened.engine) })],
  reflection: { protoFiles: [PROTO_FILES.retrieval, PROTO_FILES.common], includeDirs: [PROTO_ROOT] },
  onShutdown: () => opened.close(),
});
