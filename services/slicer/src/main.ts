/**
 * Slicer process: config → model → SlicerService bound to gRPC (:50052) and the TESSERA_SLICER
 * JetStream work queue (SliceAndEncode; PlanSlices is request/reply).
 *   node --import tsx services/slicer/src/main.ts
 */
import { PROTO_FILES, PROTO_ROOT, visionV1 } from '@tessera/contracts';
import { ensureTinyModel } from '@tessera/model';
import { connectNats, hosted, startService } from '@tessera/runtime';
import { EncoderCache } from '@tessera/vision';
import { loadSlicerConfig } from './config.js';
import { openAnySlicer } from './open-slicer.js';
import { createSlicerService } from './service.js';

const config = loadSlicerConfig();
const modelDir = config.modelDir ?? (await ensureTinyModel());
const slicer = await openAnySlicer(modelDir, {
  runtime: { executionProvider: config.executionProvider, intraOpNumThreads: config.intraOpThreads },
  limits: {
    maxBytes: config.maxImageBytes,
    maxPixels: config.maxImagePixels,
    minSide: config.minImageSide,
    maxAspectRatio: config.maxAspectRatio,
    maxSliceNums: config.maxSliceNumsLimit,
    decodeTimeoutMs: config.decodeTimeout,
  },
  batchWindowMs: config.batchWindow,
  maxBatch: config.maxBatch,
  preprocessWorkers: config.preprocessWorkers,
});

let nc: import('nats').NatsConnection | undefined;
// A model without a resampler (4.6) makes the slicer the producer of the visual tokens: it writes them
// into the encoder cache, so connect and open the cache before serving (as the resampler does for 2.6).
let cache: EncoderCache | undefined;
if (slicer.queryNum === 0) {
  nc = await connectNats(config);
  cache = await EncoderCache.open(nc, { bucket: config.encoderCacheBucket, ttlMs: config.encoderCacheTtl, maxBytes: config.encoderCacheMaxBytes, replicas: config.jetstreamReplicas });
}
const impl = createSlicerService({
  cache,
  encoder: slicer.encoder,
  modelRevision: slicer.model.manifest.revision,
  queryNum: slicer.queryNum,
  useImageId: slicer.useImageId,
  get nc() {
    return nc;
  },
  claim: { bucket: config.objectStoreBucket, ttlMs: config.objectTtl },
  tensorRefThreshold: config.tensorRefThreshold,
});

const host = await startService({
  config,
  ...(nc && { nc }),
  services: [hosted({ definition: visionV1.SlicerServiceService, impl, workQueue: { stage: 'slicer', methods: ['sliceAndEncode'] } })],
  reflection: { protoFiles: [PROTO_FILES.vision, PROTO_FILES.common], includeDirs: [PROTO_ROOT] },
  onShutdown: async () => {
    await slicer.encoder.close();
    await slicer.model.release();
  },
});
nc = host.nc;
