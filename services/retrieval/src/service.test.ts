/**
 * RetrievalService over a real nats-server (request/reply) and gRPC: ingestion, query, errors with
 * field details, tenant isolation through the tessera-tenant header.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retrievalV1 } from '@tessera/contracts';
import { TesseraError } from '@tessera/runtime';
import { startRetrievalHarness, type RetrievalClient, type RetrievalHarness } from './test/service-harness.js';

let harness: RetrievalHarness;
let nats: RetrievalClient;
let grpc: RetrievalClient;
const ACME = { tenant: 'acme', timeoutMs: 20_000 };
const GLOBEX = { tenant: 'globex', timeoutMs: 20_000 };

async function failure(p: Promise<unknown>): Promise<TesseraError> {
  try {
    await p;
  } catch (e) {
    return e as TesseraError;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  harness = await startRetrievalHarness();
  ({ nats, grpc } = harness);
}, 60_000);

afterAll(async () => {
  await harness?.close();
});

describe('RetrievalService over NATS and gRPC', () => {
  it('create → add documents → query with sources, over both transports', async () => {
    const created = await nats.createCollection({ name: 'kb', description: 'test', distance: retrievalV1.Distance.UNSPECIFIED, embeddingModel: '', dimension: 0, getOrCreate: false }, ACME);
    expect(created.created).toBe(true);
    expect(created.collection).toMatchObject({ name: 'kb', distance: retrievalV1.Distance.COSINE, embeddingModel: 'hash-terms-v2-384', dimension: 384 });
    const add = await nats.addDocuments(
      {
        collection: 'kb',
        documents: [
          { id: 'fuji', text: 'Mount Fuji is the highest mountain in Japan, 3776 metres tall.', metadata: { lang: 'en', year: 2020 } },
          { id: 'bosphorus', text: 'The Bosphorus strait divides Istanbul between Europe and Asia.', metadata: { lang: 'en', year: 2021 } },
        ],
        split: { strategy: retrievalV1.SplitOptions_Strategy.RECURSIVE, chunkSize: 200, chunkOverlap: 20, separators: [], locale: '' },
        async: false,
      },
      ACME,
    );
    expect(add.job).toMatchObject({ state: retrievalV1.IngestionJob_State.SUCCEEDED, documentsDone: 2, chunksWritten: 2 });
    const q = await grpc.query({ collection: 'kb', query: { $case: 'text', text: 'the highest mountain in Japan' }, k: 2, mode: retrievalV1.SearchMode.UNSPECIFIED, includeVectors: false, where: { year: { $gte: 2020 } } }, ACME);
    expect(q.mode).toBe(retrievalV1.SearchMode.HYBRID); // the server default for a text query
    expect(q.results[0]).toMatchObject({ id: 'fuji#0', metadata: { document_id: 'fuji', lang: 'en', year: 2020, chunk_index: 0 } });
    expect(q.results[0]!.relevance).toBeGreaterThan(q.results[1]!.relevance);
    const hyb = await nats.query({ collection: 'kb', query: { $case: 'text', text: 'Bosphorus' }, k: 1, mode: retrievalV1.SearchMode.HYBRID, includeVectors: false }, ACME);
    expect(hyb.results[0]!.id).toBe('bosphorus#0');
    expect((await nats.count({ collection: 'kb' }, ACME)).count).toBe(2);
    const got = await grpc.get({ collection: 'kb', ids: [], where: { lang: 'en' }, limit: 10, offset: 0, includeVectors: true }, ACME);
    expect(got.records.map((r) => r.id)).toEqual(['bosphorus#0', 'fuji#0']);
    expect(got.records[0]!.vector).toHaveLength(384);
  });

  it('async ingestion: job id, then GetIngestionJob until done', async () => {
    const docs = Array.from({ length: 40 }, (_, i) => ({ id: `d${i}`, text: `Document ${i} about topic ${i % 5}.`, metadata: {} }));
    const add = await nats.addDocuments({ collection: 'kb', documents: docs, async: true }, ACME);
    expect(add.documentIds).toHaveLength(40);
    let job = add.job!;
    for (let i = 0; i < 200 && job.state !== retrievalV1.IngestionJob_State.SUCCEEDED && job.state !== retrievalV1.IngestionJob_State.FAILED; i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = (await nats.getIngestionJob({ jobId: add.job!.id }, ACME)).job!;
    }
    expect(job).toMatchObject({ state: retrievalV1.IngestionJob_State.SUCCEEDED, documentsDone: 40, documentsTotal: 40 });
    expect((await failure(nats.getIngestionJob({ jobId: add.job!.id }, GLOBEX))).code).toBe('NOT_FOUND');
  });

  it('errors carry code and field over both transports; tenants are isolated', async () => {
    const e1 = await failure(nats.query({ collection: 'kb', query: { $case: 'text', text: 'x' }, k: 1000, mode: 0, includeVectors: false }, ACME));
    expect([e1.code, e1.details.field]).toEqual(['INVALID_ARGUMENT', 'k']);
    const e2 = await failure(grpc.query({ collection: 'kb', query: { $case: 'vector', vector: { values: [1, 2, 3] } }, k: 1, mode: 0, includeVectors: false }, ACME));
    expect([e2.code, e2.details.field]).toEqual(['INVALID_ARGUMENT', 'vector']);
    const e3 = await failure(grpc.query({ collection: 'kb', query: { $case: 'text', text: 'x' }, k: 1, mode: 0, includeVectors: false, where: { lang: { $like: 'e%' } } }, ACME));
    expect([e3.code, e3.details.field]).toEqual(['INVALID_ARGUMENT', 'where.lang.$like']);
    // Bad queries name the field: blank text, an over-long text, a metadata field no record has,
    // an unknown collection.
    const blank = await failure(nats.query({ collection: 'kb', query: { $case: 'text', text: ' \n\t ' }, k: 1, mode: 0, includeVectors: false }, ACME));
    expect([blank.code, blank.details.field]).toEqual(['INVALID_ARGUMENT', 'text']);
    const empty = await failure(grpc.query({ collection: 'kb', query: { $case: 'text', text: '' }, k: 1, mode: 0, includeVectors: false }, ACME));
    expect([empty.code, empty.details.field]).toEqual(['INVALID_ARGUMENT', 'text']);
    const none = await failure(nats.query({ collection: 'kb', k: 1, mode: retrievalV1.SearchMode.HYBRID, includeVectors: false }, ACME));
    expect([none.code, none.details.field]).toEqual(['INVALID_ARGUMENT', 'text']);
    const long = await failure(grpc.query({ collection: 'kb', query: { $case: 'text', text: 'x'.repeat(100_000) }, k: 1, mode: 0, includeVectors: false }, ACME));
    expect([long.code, long.details.field, long.details.limit]).toEqual(['INVALID_ARGUMENT', 'text', '<= 4096 characters']);
    const field = await failure(nats.query({ collection: 'kb', query: { $case: 'text', text: 'x' }, k: 1, mode: retrievalV1.SearchMode.LEXICAL, includeVectors: false, where: { langg: 'en' } }, ACME));
    expect([field.code, field.details.field]).toEqual(['INVALID_ARGUMENT', 'where.langg']);
    const coll = await failure(nats.query({ collection: 'nope', query: { $case: 'text', text: 'x' }, k: 1, mode: 0, includeVectors: false }, ACME));
    expect([coll.code, coll.details.field]).toEqual(['NOT_FOUND', 'collection']);
    const e4 = await failure(nats.count({ collection: 'kb' }, GLOBEX));
    expect(e4.code).toBe('NOT_FOUND');
    const e5 = await failure(nats.addDocuments({ collection: 'kb', documents: [{ id: 'e', text: '', metadata: {} }], async: false }, ACME));
    expect([e5.code, e5.details.field]).toEqual(['INVALID_ARGUMENT', 'documents[0].text']);
    expect((await nats.listCollections({ pageSize: 0, pageToken: '' }, GLOBEX)).collections).toEqual([]);
    expect((await nats.listCollections({ pageSize: 0, pageToken: '' }, ACME)).collections.map((c) => c.name)).toEqual(['kb']);
  });
});
