/** Wires model, engine, metrics and the service implementation (used by main.ts and the tests). */
import type { NatsConnection } from 'nats';
import { ensureTinyModel } from '@tessera/model';
import type { DecoderConfig } from './config.js';
import type { DecoderServiceDeps } from './decoder-service.js';
import { Engine } from './engine/engine.js';
import { resolveGenerationDefaults } from './engine/generation-defaults.js';
import { loadDecoderModel, type LoadedDecoderModel } from './load-model.js';
import { DecoderMetrics } from './metrics.js';
import { warmStructuredOutput } from './structured-output.js';

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
  | 'enableThinking'
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
