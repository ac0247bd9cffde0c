/**
 * Wiring: config → model (adapters/open-slicer) → SlicerService, bound to gRPC and the TESSERA_SLICER
 * JetStream work queue (SliceAndEncode; PlanSlices is request/reply). The one place the slicer
 * connects to NATS; main.ts hands the result to startService.
 */
import { PROTO_FILES, PROTO_ROOT, visionV1 } from '@tessera/contracts';
import { ensureTinyModel } from '@tessera/model';
import { connectNats, hosted, type ServiceComposition } from '@tessera/runtime';
import { EncoderCache } from '@tessera/vision';
import { openAnySlicer } from './adapters/open-slicer.js';
import type { SlicerConfig } from './config.js';
import { createSlicerService } from './service.js';

export async function composeSlicer(config: SlicerConfig): Promise<ServiceComposition> {
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
      syncJpegMaxPixels: config.syncJpegMaxPixels,
      syncPngMaxPixels: config.syncPngMaxPixels,
    },
    batchWindowMs: config.batchWindow,
    maxBatch: config.maxBatch,
    preprocessWorkers: config.preprocessWorkers,
    preprocessInlineMaxPixels: config.preprocessInlineMaxPixels,
  });

  // Connected before serving: image references are read from the object store, and a model without a
  // resampler (4.6) makes the slicer the producer of the visual tokens, which it writes into the
  // encoder cache (as the resampler does for 2.6), so the cache must be open before the first job.
  const nc = await connectNats(config);
  const cache =
    slicer.queryNum === 0 ? await EncoderCache.open(nc, { bucket: config.encoderCacheBucket, ttlMs: config.encoderCacheTtl, maxBytes: config.encoderCacheMaxBytes, replicas: config.jetstreamReplicas }) : undefined;
  const impl = createSlicerService({
    cache,
    encoder: slicer.encoder,
    modelRevision: slicer.model.manifest.revision,
    queryNum: slicer.queryNum,
    useImageId: slicer.useImageId,
    nc,
    claim: { bucket: config.objectStoreBucket, ttlMs: config.objectTtl },
    tensorRefThreshold: config.tensorRefThreshold,
  });

  return {
    nc,
    services: [hosted({ definition: visionV1.SlicerServiceService, impl, workQueue: { stage: 'slicer', methods: ['sliceAndEncode'] } })],
    reflection: { protoFiles: [PROTO_FILES.vision, PROTO_FILES.common], includeDirs: [PROTO_ROOT] },
    onShutdown: async () => {
      await slicer.encoder.close();
      await slicer.model.release();
      await nc.drain().catch(() => {});
    },
  };
}
