/**
 * Resampler process: config → model → ResamplerService bound to gRPC (:50053) and the
 * TESSERA_RESAMPLER JetStream work queue.
 *   node --import tsx services/resampler/src/main.ts
 */
import type { NatsConnection } from 'nats';
import { PROTO_FILES, PROTO_ROOT, resamplingV1 } from '@tessera/contracts';
import { ensureTinyModel } from '@tessera/model';
import { hosted, startService } from '@tessera/runtime';
import { loadResamplerConfig } from './config.js';
import { openResampler } from './open-resampler.js';
import { createResamplerService } from './service.js';

const config = loadResamplerConfig();
const modelDir = config.modelDir ?? (await ensureTinyModel());
const opened = await openResampler(modelDir, {
  runtime: { executionProvider: config.executionProvider, intraOpNumThreads: config.intraOpThreads },
  batchWindowMs: config.batchWindow,
  maxBatch: config.maxBatch,
});

let nc: NatsConnection | undefined;
const impl = createResamplerService({
  batcher: opened.batcher,
  modelRevision: opened.model.manifest.revision,
  visionHidden: opened.visionHidden,
  maxSlices: config.maxSlices,
  maxPatchesPerSlice: config.maxPatchesPerSlice,
  outputDtype: config.outputDtype,
  get nc() {
    return nc;
  },
  claim: { bucket: config.objectStoreBucket, ttlMs: config.objectTtl },
  tensorRefThreshold: config.tensorRefThreshold,
});

const host = await startService({
  config,
  services: [hosted({ definition: resamplingV1.ResamplerServiceService, impl, workQueue: { stage: 'resampler', methods: ['resample'] } })],
  reflection: { protoFiles: [PROTO_FILES.resampling, PROTO_FILES.common], includeDirs: [PROTO_ROOT] },
  onShutdown: () => opened.model.release(),
});
nc = host.nc;
