/**
 * Wiring: config → model (adapters/open-resampler) → ResamplerService, bound to gRPC and the
 * TESSERA_RESAMPLER JetStream work queue, with the encoder cache it writes visual tokens into. The one
 * place the resampler connects to NATS; main.ts hands the result to startService.
 */
import { PROTO_FILES, PROTO_ROOT, resamplingV1 } from '@tessera/contracts';
import { ensureTinyModel } from '@tessera/model';
import { connectNats, hosted, type ServiceComposition } from '@tessera/runtime';
import { EncoderCache } from '@tessera/vision';
import { openResampler } from './adapters/open-resampler.js';
import type { ResamplerConfig } from './config.js';
import { createResamplerService } from './service.js';

export async function composeResampler(config: ResamplerConfig): Promise<ServiceComposition> {
  const modelDir = config.modelDir ?? (await ensureTinyModel());
  const opened = await openResampler(modelDir, {
    runtime: { executionProvider: config.executionProvider, intraOpNumThreads: config.intraOpThreads },
    batchWindowMs: config.batchWindow,
    maxBatch: config.maxBatch,
  });

  // Connected before serving: the encoder cache must be open before the first job arrives.
  const nc = await connectNats(config);
  const cache = await EncoderCache.open(nc, { bucket: config.encoderCacheBucket, ttlMs: config.encoderCacheTtl, maxBytes: config.encoderCacheMaxBytes, replicas: config.jetstreamReplicas });
  const impl = createResamplerService({
    batcher: opened.batcher,
    modelRevision: opened.model.manifest.revision,
    visionHidden: opened.visionHidden,
    maxSlices: config.maxSlices,
    maxPatchesPerSlice: config.maxPatchesPerSlice,
    temporal: opened.temporal,
    maxGroupFrames: config.maxGroupFrames,
    maxTemporalId: config.maxTemporalId,
    outputDtype: config.outputDtype,
    nc,
    claim: { bucket: config.objectStoreBucket, ttlMs: config.objectTtl },
    tensorRefThreshold: config.tensorRefThreshold,
    cache,
  });

  return {
    nc,
    services: [hosted({ definition: resamplingV1.ResamplerServiceService, impl, workQueue: { stage: 'resampler', methods: ['resample'] } })],
    reflection: { protoFiles: [PROTO_FILES.resampling, PROTO_FILES.common], includeDirs: [PROTO_ROOT] },
    onShutdown: async () => {
      await opened.model.release();
      await nc.drain().catch(() => {});
    },
  };
}
