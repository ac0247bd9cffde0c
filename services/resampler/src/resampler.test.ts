/**
 * ResamplerService on a real nats-server with the tiny model: through the TESSERA_RESAMPLER work
 * queue and gRPC; visual tokens equal the float64 reference forward of @tessera/model per slice;
 * claim checks in and out; micro-batching across requests; bad input answered, worker keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonV1, resamplingV1, tensorFromArray, tensorToFloat32 } from '@tessera/contracts';
import { ensureTinyModelPaths, readCheckpoint, ReferenceModel } from '@tessera/model';
import { getPayload, grpcClient, hosted, natsClient, putPayload, resolveTensor, startService, TesseraError, type ServiceClient, type ServiceHost } from '@tessera/runtime';
import { maxAbsDiff, withNats } from '@tessera/testing/vitest';
import { EncoderCache } from '@tessera/vision';
import { loadResamplerConfig } from './config.js';
import { openResampler, type OpenedResampler } from './adapters/open-resampler.js';
import { createResamplerService } from './service.js';

type Client = ServiceClient<typeof resamplingV1.ResamplerServiceService>;

const bus = withNats();
let host: ServiceHost;
let opened: OpenedResampler;
let ref: ReferenceModel;
let client: Client;
let grpc: Client;
let cache: EncoderCache;
const TENANT = { tenant: 'acme', timeoutMs: 30_000 };

beforeAll(async () => {
  const paths = await ensureTinyModelPaths();
  ref = new ReferenceModel(readCheckpoint(paths.checkpoint));
  const config = loadResamplerConfig({ NATS_URL: bus.server.url, TESSERA_GRPC_PORT: '0', TESSERA_METRICS_PORT: '0', TESSERA_TENSOR_REF_THRESHOLD: '64KiB', TESSERA_MAX_SLICES_PER_REQUEST: '10' });
  opened = await openResampler(paths.model, { runtime: { intraOpNumThreads: 1, allowSpinning: false }, batchWindowMs: 5, maxBatch: 16 });
  cache = await EncoderCache.open(bus.nc, { bucket: 'resampler-test-cache' });
  const impl = createResamplerService({
    batcher: opened.batcher,
    modelRevision: opened.model.manifest.revision,
    visionHidden: opened.visionHidden,
    maxSlices: config.maxSlices,
    maxPatchesPerSlice: config.maxPatchesPerSlice,
    temporal: opened.temporal,
    maxGroupFrames: config.maxGroupFrames,
    maxTemporalId: config.maxTemporalId,
    outputDtype: 'float32',
    nc: bus.nc,
    claim: { bucket: config.objectStoreBucket, ttlMs: config.objectTtl },
    tensorRefThreshold: config.tensorRefThreshold,
    cache,
  });
  host = await startService({
    config,
    nc: bus.nc,
    services: [hosted({ definition: resamplingV1.ResamplerServiceService, impl, workQueue: { stage: 'resampler', methods: ['resample'] } })],
    handleSignals: false,
    metricsEndpoint: false,
    telemetry: { inMemory: true },
  });
  client = natsClient(bus.nc, resamplingV1.ResamplerServiceService, { workQueue: { stage: 'resampler', methods: ['resample'] } });
  grpc = grpcClient(resamplingV1.ResamplerServiceService, `127.0.0.1:${host.grpcPort}`);
}, 300_000);

afterAll(async () => {
  client?.close();
  grpc?.close();
  await host?.shutdown();
  await opened?.model.release();
});

function features(rows: number, cols: number, seed: number): Float32Array {
  const D = opened.visionHidden;
  const f = new Float32Array(rows * cols * D);
  for (let i = 0; i < f.length; i++) f[i] = Math.sin(i * 0.173 + seed) * 1.5;
  return f;
}
const slice = (rows: number, cols: number, seed: number): commonV1.PatchFeatures => ({
  features: tensorFromArray(features(rows, cols, seed), [rows * cols, opened.visionHidden]),
  patchRows: rows,
  patchCols: cols,
});

/** The visual tokens, read from the object store (as the caller's tenant) when they came as a claim check. */
const tokensOf = async (res: resamplingV1.ResampleResponse): Promise<Float32Array> => tensorToFloat32(await resolveTensor(bus.nc, res.visualTokens!, { tenant: TENANT.tenant }));

describe('Resample over the work queue', () => {
  it('slices of different grids → [slices, 64, hidden] equal to the per-slice reference', async () => {
    const grids: [number, number][] = [[6, 8], [5, 5], [3, 7]];
    const res = await client.resample({ slices: grids.map(([r, c], i) => slice(r, c, i)), modelRevision: opened.model.manifest.revision, imageSha256: '', groupSizes: [], temporalIds: [] }, TENANT);
    const Q = opened.batcher.model.queryNum;
    const D = opened.batcher.model.embedDim;
    expect(res.visualTokens?.shape).toEqual([3, Q, D]);
    expect(res.visualTokens?.dtype).toBe(commonV1.Dtype.FLOAT32);
    const got = await tokensOf(res);
    grids.forEach(([r, c], i) => {
      const want = ref.resampler(features(r, c, i), r, c);
      expect(maxAbsDiff(got.subarray(i * Q * D, (i + 1) * Q * D), want), `slice ${i}`).toBeLessThanOrEqual(1e-4);
    });
    expect(res.timings?.resampleMs).toBeGreaterThan(0);
  });

  it('features as ObjectRefs in, a large token tensor as an ObjectRef out', async () => {
    const s = slice(20, 20, 7);
    const raw = s.features!.data!.$case === 'raw' ? s.features!.data!.raw : Buffer.alloc(0);
    const r = await putPayload(bus.nc, raw, { tenant: TENANT.tenant }); // features are tenant-scoped, like the slicer writes them
    const refSlice = { ...s, features: { ...s.features!, data: { $case: 'ref' as const, ref: { bucket: r.bucket, key: r.key, size: r.size, contentType: '' } } } };
    const slices = Array.from({ length: 9 }, () => refSlice);
    const res = await client.resample({ slices, modelRevision: '', imageSha256: '', groupSizes: [], temporalIds: [] }, TENANT);
    expect(res.visualTokens?.data?.$case).toBe('ref'); // 9 × 64 × 128 × 4 B = 288 KiB > 64 KiB
    const got = await tokensOf(res);
    const want = ref.resampler(features(20, 20, 7), 20, 20);
    const per = want.length;
    expect(maxAbsDiff(got.subarray(8 * per, 9 * per), want)).toBeLessThanOrEqual(1e-4);
  });

  it('with a cache target, writes the tokens into the encoder cache and answers with its reference', async () => {
    const imageSha256 = 'c'.repeat(64);
    const res = await client.resample({ slices: [slice(4, 5, 21), slice(3, 3, 22)], modelRevision: '', imageSha256, cache: { maxSliceNums: 9, scaleResolution: 448 }, groupSizes: [], temporalIds: [] }, TENANT);
    expect(res.cached).toBe(true);
    expect(res.visualTokens?.data?.$case).toBe('ref'); // small tokens too: the decoder reads the cache entry
    const entry = await cache.lookup({ modelRevision: opened.model.manifest.revision, tenant: TENANT.tenant, imageSha256, maxSliceNums: 9, scaleResolution: 448 });
    expect(entry?.ref.key).toBe(res.visualTokens?.data?.$case === 'ref' ? res.visualTokens.data.ref.key : '');
    const got = await tokensOf(res);
    const Q = opened.batcher.model.queryNum;
    const D = opened.batcher.model.embedDim;
    expect(maxAbsDiff(got.subarray(Q * D), ref.resampler(features(3, 3, 22), 3, 3))).toBeLessThanOrEqual(1e-4);
    // Another tenant holding the same reference reads nothing.
    const t = res.visualTokens!.data!;
    await expect(getPayload(bus.nc, t.$case === 'ref' ? t.ref : (undefined as never), { tenant: 'globex' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await cache.lookup({ modelRevision: opened.model.manifest.revision, tenant: 'globex', imageSha256, maxSliceNums: 9, scaleResolution: 448 })).toBeNull();
  });

  it('concurrent requests share resampler calls and get their own tokens back', async () => {
    const before = opened.batcher.batcher.stats.calls;
    const reqs = Array.from({ length: 8 }, (_, i) => client.resample({ slices: [slice(4, 4, 100 + i)], modelRevision: '', imageSha256: '', groupSizes: [], temporalIds: [] }, TENANT));
    const res = await Promise.all(reqs);
    expect(opened.batcher.batcher.stats.calls - before).toBeLessThan(8);
    for (const i of [0, 5]) expect(maxAbsDiff(await tokensOf(res[i]), ref.resampler(features(4, 4, 100 + i), 4, 4))).toBeLessThanOrEqual(1e-4);
  });
});

describe('bad input', () => {
  async function code(p: Promise<unknown>): Promise<string> {
    try {
      await p;
    } catch (e) {
      return TesseraError.from(e).code;
    }
    return 'OK';
  }
  it('no slices, too many, wrong shape, zero grid, wrong revision, missing ref — then still serving', async () => {
    const base = { modelRevision: '', imageSha256: '', groupSizes: [], temporalIds: [] };
    expect(await code(client.resample({ ...base, slices: [] }, TENANT))).toBe('INVALID_ARGUMENT');
    expect(await code(client.resample({ ...base, slices: Array.from({ length: 11 }, () => slice(1, 1, 0)) }, TENANT))).toBe('INVALID_ARGUMENT');
    expect(await code(client.resample({ ...base, slices: [{ ...slice(2, 2, 0), patchCols: 3 }] }, TENANT))).toBe('INVALID_ARGUMENT');
    expect(await code(client.resample({ ...base, slices: [{ ...slice(2, 2, 0), patchRows: 0 }] }, TENANT))).toBe('INVALID_ARGUMENT');
    expect(await code(client.resample({ ...base, modelRevision: 'nope', slices: [slice(1, 1, 0)] }, TENANT))).toBe('FAILED_PRECONDITION');
    expect(await code(client.resample({ ...base, slices: [slice(1, 1, 0)], cache: { maxSliceNums: 9, scaleResolution: 448 } }, TENANT))).toBe('INVALID_ARGUMENT');
    const s = slice(2, 2, 0);
    const missing = { ...s, features: { ...s.features!, data: { $case: 'ref' as const, ref: { bucket: 'tessera-payloads', key: 'e'.repeat(64), size: 2 * 2 * opened.visionHidden * 4, contentType: '' } } } };
    expect(await code(client.resample({ ...base, slices: [missing] }, { ...TENANT, timeoutMs: 5_000 }))).toMatch(/NOT_FOUND|UNAVAILABLE|DEADLINE_EXCEEDED/);
    const ok = await client.resample({ ...base, slices: [slice(2, 3, 1)] }, TENANT);
    expect(ok.visualTokens?.shape[0]).toBe(1);
  });

  it('gRPC binding answers the same', async () => {
    const res = await grpc.resample({ slices: [slice(3, 3, 5)], modelRevision: '', imageSha256: '', groupSizes: [], temporalIds: [] }, TENANT);
    expect(maxAbsDiff(await tokensOf(res), ref.resampler(features(3, 3, 5), 3, 3))).toBeLessThanOrEqual(1e-4);
    expect(await code(grpc.resample({ slices: [], modelRevision: '', imageSha256: '', groupSizes: [], temporalIds: [] }, TENANT))).toBe('INVALID_ARGUMENT');
  });
});
