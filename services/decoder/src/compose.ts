/**
 * Wiring: config → model (adapters/load-model, ORT backend) → engine (domain/) → metrics →
 * DecoderService, bound to gRPC and NATS (request/reply, or the TESSERA_DECODER work queue). The one
 * place the decoder connects to NATS; main.ts hands `composeDecoder` to startService, tests use
 * `createDecoderApp` alone.
 */
import type { NatsConnection } from 'nats';
import { PROTO_ROOT, SERVICES } from '@tessera/contracts';
import { connectNats, hosted, type ServiceComposition } from '@tessera/runtime';
import { ensureTinyModel } from '@tessera/model';
import { hubModelNamespace } from '@tessera/edge';
import type { DecoderConfig } from './config.js';
import { decoderService, siteGenerate, type DecoderServiceDeps } from './service.js';
import { Engine } from './domain/engine/engine.js';
import { resolveGenerationDefaults } from './domain/engine/generation-defaults.js';
import { loadDecoderModel, type LoadedDecoderModel } from './adapters/load-model.js';
import { DecoderMetrics } from './adapters/metrics.js';
import { warmStructuredOutput } from './domain/structured-output.js';

export interface DecoderApp {
  loaded: LoadedDecoderModel;
  engine: Engine;
  deps(nc?: NatsConnection): DecoderServiceDeps;
  close(): Promise<void>;
}

export type DecoderAppConfig = Pick<
  DecoderConfig,
  | 'modelDir' | 'executionProvider' | 'intraOpThreads' | 'maxBatchSize' | 'kvBudget' | 'maxQueue' | 'maxQueuePerTenant'
  | 'maxPrefillTokensPerStep' | 'maxContext' | 'maxTokensLimit' | 'defaultMaxTokens' | 'defaultTemperature' | 'generationConfig'
  | 'maxStopStrings' | 'maxStopLength' | 'maxStopTokenIds' | 'maxImages' | 'prefixCacheEntries' | 'prefixCaching' | 'kvBlockSize'
  | 'enableThinking' | 'maxPromptLogitsPerStep'
>;

export async function createDecoderApp(cfg: DecoderAppConfig): Promise<DecoderApp> {
  const dir = cfg.modelDir || (await ensureTinyModel());
  const loaded = await loadDecoderModel(dir, { executionProvider: cfg.executionProvider, intraOpNumThreads: cfg.intraOpThreads }, { enableThinking: cfg.enableThinking });
  const engine = new Engine({
    backend: loaded.backend,
    tokenBytes: loaded.tokenizer.tokenBytes,
    observer: new DecoderMetrics(loaded.backend.info.modelName),
    limits: {
      maxBatchSize: cfg.maxBatchSize,
      kvBudgetBytes: cfg.kvBudget,
      maxQueue: cfg.maxQueue,
      maxQueuePerTenant: cfg.maxQueuePerTenant,
      maxPrefillTokensPerStep: cfg.maxPrefillTokensPerStep,
      maxContext: cfg.maxContext,
      maxTokensLimit: cfg.maxTokensLimit,
      maxStopStrings: cfg.maxStopStrings,
      maxStopStringLength: cfg.maxStopLength,
      maxStopTokenIds: cfg.maxStopTokenIds,
      prefixCaching: cfg.prefixCaching && cfg.prefixCacheEntries > 0,
      kvBlockSize: cfg.kvBlockSize,
      maxPromptLogitsPerStep: cfg.maxPromptLogitsPerStep,
    },
  });
  warmStructuredOutput({ tokenBytes: loaded.tokenizer.tokenBytes, vocabSize: loaded.backend.info.vocabSize, eosTokenIds: loaded.backend.info.eosTokenIds });
  return {
    loaded,
    engine,
    deps: (nc) => ({
      engine,
      tokenizer: loaded.tokenizer,
      revision: loaded.revision,
      assemble: loaded.assemble,
      defaults: resolveGenerationDefaults(cfg.generationConfig, loaded.generationConfig, { maxTokens: cfg.defaultMaxTokens, temperature: cfg.defaultTemperature }, loaded.family.id),
      maxImages: cfg.maxImages,
      ...(nc && { nc }),
    }),
    async close() {
      await engine.close();
      await loaded.model.release();
    },
  };
}

export async function composeDecoder(cfg: DecoderConfig): Promise<ServiceComposition> {
  const app = await createDecoderApp(cfg);
  const nc = await connectNats(cfg);
  const entry = SERVICES.decoder;
  const impl = decoderService(app.deps(nc));
  return {
    nc,
    services: [
      hosted({
        definition: entry.definition,
        impl,
        ...(cfg.workQueue && { workQueue: { stage: 'decoder', methods: ['generate'] } }),
      }),
      // Edge sites that orchestrate this model themselves call it here, over their leaf links: one
      // subject set per model revision, so a site's client reaches exactly the model whose card it
      // holds (and never its own site decoder). Same engine and batch as the hub gateway's calls.
      // Generate only, text only (siteGenerate): nothing a site sends may read the hub's stores.
      ...(cfg.siteAccess ? [hosted({ definition: { generate: entry.definition.generate }, impl: { generate: siteGenerate(impl.generate) }, namespace: hubModelNamespace(app.loaded.revision), grpc: false })] : []),
    ],
    reflection: { protoFiles: [...entry.protoFiles], includeDirs: [PROTO_ROOT] },
    // In-flight streams finish inside shutdownGrace (the host waits), then the engine and sessions close.
    onShutdown: async () => {
      await app.close();
      await nc.drain().catch(() => {});
    },
  };
}
