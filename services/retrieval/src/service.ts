/**
 * The one implementation of `tessera.retrieval.v1.RetrievalService`, bound to gRPC and NATS
 * request/reply by main.ts. The tenant comes only from the call context (`tessera-tenant`).
 */
import { retrievalV1 } from '@tessera/contracts';
import type { CallContext, ServiceImpl } from '@tessera/runtime';
import type { RetrievalEngine } from './domain/engine/retrieval-engine.js';
import {
  collectionToWire,
  distanceFromWire,
  distanceToWire,
  jobToWire,
  metadataFromWire,
  modeToWire,
  queryFromWire,
  recordToWire,
  splitFromWire,
  vectorFromWire,
} from './wire.js';

export type RetrievalImpl = ServiceImpl<typeof retrievalV1.RetrievalServiceService>;

export function createRetrievalService(engine: RetrievalEngine): RetrievalImpl {
  return {
    async createCollection(req: retrievalV1.CreateCollectionRequest, ctx: CallContext): Promise<retrievalV1.CreateCollectionResponse> {
      const { collection, created } = await engine.createCollection(ctx.tenant, {
        name: req.name,
        description: req.description,
        distance: distanceFromWire(req.distance),
        embeddingModel: req.embeddingModel,
        dimension: req.dimension,
        metadata: req.metadata ?? {},
        getOrCreate: req.getOrCreate,
      });
      return { collection: collectionToWire(collection), created };
    },

    async deleteCollection(req: retrievalV1.DeleteCollectionRequest, ctx: CallContext): Promise<retrievalV1.DeleteCollectionResponse> {
      return { deletedRecords: await engine.deleteCollection(ctx.tenant, req.name) };
    },

    async listCollections(req: retrievalV1.ListCollectionsRequest, ctx: CallContext): Promise<retrievalV1.ListCollectionsResponse> {
      const page = await engine.listCollections(ctx.tenant, req.pageSize || 100, req.pageToken);
      return { collections: page.collections.map(collectionToWire), nextPageToken: page.nextPageToken };
    },

    async addDocuments(req: retrievalV1.AddDocumentsRequest, ctx: CallContext): Promise<retrievalV1.AddDocumentsResponse> {
      const out = await engine.addDocuments(ctx.tenant, {
        collection: req.collection,
        documents: req.documents.map((d) => ({ ...(d.id && { id: d.id }), text: d.text, metadata: metadataFromWire(d.metadata) })),
        split: splitFromWire(req.split),
        async: req.async,
      });
      return { job: jobToWire(out.job), documentIds: out.documentIds };
    },

    async getIngestionJob(req: retrievalV1.GetIngestionJobRequest, ctx: CallContext): Promise<retrievalV1.GetIngestionJobResponse> {
      return { job: jobToWire(engine.getJob(ctx.tenant, req.jobId)) };
    },

    async upsert(req: retrievalV1.UpsertRequest, ctx: CallContext): Promise<retrievalV1.UpsertResponse> {
      const n = await engine.upsert(
        ctx.tenant,
        req.collection,
        req.records.map((r) => ({ id: r.id, text: r.text, metadata: metadataFromWire(r.metadata), vector: vectorFromWire(r.vector) })),
      );
      return { upserted: n };
    },

    async delete(req: retrievalV1.DeleteRequest, ctx: CallContext): Promise<retrievalV1.DeleteResponse> {
      return { deleted: await engine.delete(ctx.tenant, req.collection, { ids: req.ids, where: req.where, whereDocument: req.whereDocument }) };
    },

    async get(req: retrievalV1.GetRequest, ctx: CallContext): Promise<retrievalV1.GetResponse> {
      const recs = await engine.get(ctx.tenant, req.collection, { ids: req.ids, where: req.where, whereDocument: req.whereDocument }, { limit: req.limit || 100, offset: req.offset, includeVectors: req.includeVectors });
      return { records: recs.map(recordToWire) };
    },

    async count(req: retrievalV1.CountRequest, ctx: CallContext): Promise<retrievalV1.CountResponse> {
      return { count: await engine.count(ctx.tenant, req.collection) };
    },

    async embed(req: retrievalV1.EmbedRequest, ctx: CallContext): Promise<retrievalV1.EmbedResponse> {
      void ctx; // embedders are shared; tenants only meet in quotas, which the gateway applies
      const inputType = req.inputType === retrievalV1.EmbedInputType.QUERY ? 'query' : 'passage';
      const out = await engine.embed({ inputs: req.inputs, model: req.model, inputType });
      return { embeddings: out.vectors.map((v) => ({ values: Array.from(v) })), model: out.model, dimension: out.dimension, promptTokens: out.promptTokens, truncated: out.truncated };
    },

    async query(req: retrievalV1.QueryRequest, ctx: CallContext): Promise<retrievalV1.QueryResponse> {
      const out = await engine.query(ctx.tenant, queryFromWire(req));
      ctx.throwIfAborted();
      return {
        results: out.results.map((r) => ({ id: r.id, score: r.score, relevance: r.relevance, metadata: r.metadata, text: r.text, vector: r.vector ? Array.from(r.vector) : [] })),
        distance: distanceToWire(out.distance),
        mode: modeToWire(out.mode),
      };
    },
  };
}
