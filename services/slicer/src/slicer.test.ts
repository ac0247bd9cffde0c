/**
 * SlicerService end to end on a real nats-server with the tiny model: through the TESSERA_SLICER
 * work queue and gRPC; features equal the float64 reference forward of @tessera/model on the exact
 * preprocessed pixels; bad input answers with the right code and the worker keeps serving.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { commonV1, tensorToFloat32, visionV1 } from '@tessera/contracts';
import { ensureTinyModelPaths, readCheckpoint, ReferenceModel } from '@tessera/model';
import { getPayload, sha256Hex, grpcClient, hosted, natsClient, resolveTensor, startService, TesseraError, type ServiceClient, type ServiceHost } from '@tessera/runtime';
import { maxAbsDiff, withNats } from '@tessera/testing/vitest';
import { decodeImage, ImageStore, planSlices, prepareImage, sliceDecoded, slicePlanToProto, toChannelFirst, DEFAULT_NORMALIZATION, type SlicePlan } from '@tessera/vision';
import { loadSlicerConfig } from './config.js';
import { openSlicer, type OpenedSlicer } from './adapters/open-slicer.js';
import { createSlicerService } from './service.js';

type Client = ServiceClient<typeof visionV1.SlicerServiceService>;

const bus = withNats();
let host: ServiceHost;
let slicer: OpenedSlicer;
let ref: ReferenceModel;
let client: Client;
let grpc: Client;
const TENANT = { tenant: 'acme', timeoutMs: 30_000 };

async function png(w: number, h: number, seed = 0): Promise<Buffer> {
  const b = Buffer.alloc(w * h * 3);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + seed * 13 + ((i / 3) | 0) % w) & 255;
  return sharp(b, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

beforeAll(async () => {
  const paths = await ensureTinyModelPaths();
  ref = new ReferenceModel(readCheckpoint(paths.checkpoint));
  const config = loadSlicerConfig({ NATS_URL: bus.server.url, TESSERA_GRPC_PORT: '0', TESSERA_METRICS_PORT: '0', TESSERA_TENSOR_REF_THRESHOLD: '64KiB', TESSERA_MAX_IMAGE_PIXELS: '4000000' });
  slicer = await openSlicer(paths.model, {
    runtime: { intraOpNumThreads: 1, allowSpinning: false },
    limits: { maxBytes: config.maxImageBytes, maxPixels: config.maxImagePixels, minSide: config.minImageSide, maxAspectRatio: config.maxAspectRatio, maxSliceNums: config.maxSliceNumsLimit },
    // Wide enough that concurrent requests meet in one window even on a loaded 2-core CI machine
    // (at 5 ms the batching test failed under load average 20); it only delays a lone request.
    batchWindowMs: 150,
    maxBatch: 16,
    preprocessWorkers: 1,
  });
  const impl = createSlicerService({
    encoder: slicer.encoder,
    modelRevision: slicer.model.manifest.revision,
    queryNum: slicer.queryNum,
    useImageId: slicer.useImageId,
    nc: bus.nc,
    claim: { bucket: config.objectStoreBucket, ttlMs: config.objectTtl },
    tensorRefThreshold: config.tensorRefThreshold,
  });
  host = await startService({
    config,
    nc: bus.nc,
    services: [hosted({ definition: visionV1.SlicerServiceService, impl, workQueue: { stage: 'slicer', methods: ['sliceAndEncode'] } })],
    handleSignals: false,
    metricsEndpoint: false,
    telemetry: { inMemory: true },
  });
  client = natsClient(bus.nc, visionV1.SlicerServiceService, { workQueue: { stage: 'slicer', methods: ['sliceAndEncode'] } });
  grpc = grpcClient(visionV1.SlicerServiceService, `127.0.0.1:${host.grpcPort}`);
}, 300_000);

afterAll(async () => {
  client?.close();
  grpc?.close();
  await host?.shutdown();
  await slicer?.encoder.close();
  await slicer?.model.release();
});

/** A slice's features, read from the object store (as the caller's tenant) when they came as a claim check. */
const featuresOf = async (p: commonV1.PatchFeatures): Promise<Float32Array> => tensorToFloat32(await resolveTensor(bus.nc, p.features!, { tenant: TENANT.tenant }));

describe('SliceAndEncode over the work queue', () => {
  it('returns the plan and per-slice features equal to the reference forward', async () => {
    const image = await png(500, 300, 1);
    // scale_resolution 224 keeps the float64 reference fast: 16×16-patch tiles instead of 32×32.
    const res = await client.sliceAndEncode({ image: { source: { $case: 'data', data: image }, sha256: '' }, options: { scaleResolution: 224, maxSliceNums: 4 }, modelRevision: '' }, TENANT);
    const plan = res.plan!;
    expect(plan.options).toEqual({ maxSliceNums: 4, scaleResolution: 224, useImageId: true });
    expect(plan.gridCols * plan.gridRows).toBeGreaterThan(1);
    expect(res.slices).toHaveLength(1 + plan.gridCols * plan.gridRows);
    expect(plan.visualTokenCount).toBe(64 * res.slices.length);
    expect(res.modelRevision).toBe(slicer.model.manifest.revision);
    expect(res.timings?.visionEncodeMs).toBeGreaterThan(0);

    const prepared = await prepareImage(image, { scaleResolution: 224, maxSliceNums: 4 });
    expect(prepared.sha256).toBe(res.imageSha256);
    for (let k = 0; k < prepared.images.length; k++) {
      const img = prepared.images[k];
      expect([res.slices[k].patchRows, res.slices[k].patchCols]).toEqual([img.height / 14, img.width / 14]);
      const want = ref.vision(toChannelFirst(img.rgb, img.width, img.height, DEFAULT_NORMALIZATION), img.height, img.width);
      expect(maxAbsDiff(await featuresOf(res.slices[k]), want), `image ${k}`).toBeLessThanOrEqual(1e-4);
    }
  });

  it('large feature tensors travel as ObjectRefs; the image comes as a tenant-scoped image-store reference', async () => {
    const image = await png(300, 200, 2);
    const images = await ImageStore.open(bus.nc, { bucket: 'slicer-test-images' });
    const r = await images.put(TENANT.tenant, image, sha256Hex(image), 'image/png');
    const input = { source: { $case: 'ref' as const, ref: r }, sha256: r.key };
    const res = await client.sliceAndEncode({ image: input, modelRevision: '' }, TENANT);
    expect(res.slices).toHaveLength(1); // 300×200 < 448²: overview only, ~1000 patches × 64 × 4 B > 64 KiB
    expect(res.imageSha256).toBe(r.key);
    expect(res.slices[0].features?.data?.$case).toBe('ref');
    expect((await featuresOf(res.slices[0])).length).toBe(res.slices[0].patchRows * res.slices[0].patchCols * slicer.model.vision.hiddenSize);
    // The same reference from another tenant names nothing; a ref whose key is not its sha256 is refused.
    const fails = (p: Promise<unknown>) => p.then(() => ({ code: 'OK' }), (e: unknown) => TesseraError.from(e));
    expect((await fails(client.sliceAndEncode({ image: input, modelRevision: '' }, { ...TENANT, tenant: 'globex' }))).code).toBe('NOT_FOUND');
    expect((await fails(client.sliceAndEncode({ image: { ...input, sha256: 'e'.repeat(64) }, modelRevision: '' }, TENANT))).code).toBe('INVALID_ARGUMENT');
  });

  it("cuts the caller's plan as is (the gateway plans once) and refuses one that is not for this image", async () => {
    const image = await png(500, 300, 3);
    const options = { scaleResolution: 224, maxSliceNums: 4 };
    const own = planSlices(500, 300, options);
    expect(own.grid).toEqual({ cols: 2, rows: 1 });
    // Well-formed but not what the slicer would choose (1x2 instead of 2x1): it must be cut as given.
    const given: SlicePlan = { ...own, grid: { cols: 1, rows: 2 }, refine: { width: 224, height: 448 }, slices: [0, 224].map((y) => ({ x: 0, y, width: 224, height: 224 })) };
    const req = (plan: SlicePlan) => ({ image: { source: { $case: 'data' as const, data: image }, sha256: '' }, options, modelRevision: '', plan: slicePlanToProto(plan, 64, { ...options, useImageId: true }) });
    const res = await client.sliceAndEncode(req(given), TENANT);
    expect([res.plan?.gridCols, res.plan?.gridRows]).toEqual([1, 2]);
    expect(res.slices.map((s) => [s.patchRows, s.patchCols])).toEqual([[own.overview.height / 14, own.overview.width / 14], [16, 16], [16, 16]]);
    const pieces = sliceDecoded(await decodeImage(image), given);
    const want = ref.vision(toChannelFirst(pieces[2].rgb, 224, 224, DEFAULT_NORMALIZATION), 224, 224);
    expect(maxAbsDiff(await featuresOf(res.slices[2]), want)).toBeLessThanOrEqual(1e-4);

    const e = TesseraError.from(await client.sliceAndEncode(req({ ...own, source: { width: 300, height: 500 } }), TENANT).catch((x: unknown) => x));
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'plan.source_size' } });
    expect(e.message).toContain('500x300');
  });

  it('eight concurrent images are micro-batched and each gets its own features', async () => {
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => png(120, 90, 10 + i)));
    const before = { ...slicer.encoder.batcher.stats };
    const res = await Promise.all(images.map((data) => client.sliceAndEncode({ image: { source: { $case: 'data', data }, sha256: '' }, options: { scaleResolution: 224 }, modelRevision: '' }, TENANT)));
    const calls = slicer.encoder.batcher.stats.calls - before.calls;
    expect(calls).toBeLessThan(8);
    const first = await featuresOf(res[0].slices[0]);
    const second = await featuresOf(res[1].slices[0]);
    expect(maxAbsDiff(first, second)).toBeGreaterThan(0); // not mixed up
    const solo = await client.sliceAndEncode({ image: { source: { $case: 'data', data: images[0] }, sha256: '' }, options: { scaleResolution: 224 }, modelRevision: '' }, TENANT);
    expect(maxAbsDiff(await featuresOf(solo.slices[0]), first)).toBeLessThanOrEqual(1e-5);
  });
});

describe('bad input: the right code, the limit named, and the worker keeps serving', () => {
  const call = (c: Client, image: Buffer | Uint8Array, options: visionV1.SliceOptions = {}, extra: Partial<visionV1.SliceAndEncodeRequest> = {}) =>
    c.sliceAndEncode({ image: { source: { $case: 'data', data: Buffer.from(image) }, sha256: '' }, options, modelRevision: '', ...extra }, TENANT);

  async function fails(p: Promise<unknown>): Promise<TesseraError> {
    try {
      await p;
    } catch (e) {
      return TesseraError.from(e);
    }
    throw new Error('expected an error');
  }

  it.each([
    ['zero bytes', async () => Buffer.alloc(0), {}, 'INVALID_ARGUMENT'],
    ['text, not an image', async () => Buffer.from('definitely not a picture'), {}, 'INVALID_ARGUMENT'],
    ['truncated JPEG', async () => (await sharp(await png(64, 64)).jpeg().toBuffer()).subarray(0, 300), {}, 'INVALID_ARGUMENT'],
    ['1×1', async () => png(1, 1), {}, 'INVALID_ARGUMENT'],
    ['50000×10', async () => sharp({ create: { width: 50000, height: 10, channels: 3, background: '#777' } }).png().toBuffer(), {}, 'INVALID_ARGUMENT'],
    ['more pixels than the limit', async () => sharp({ create: { width: 2100, height: 2000, channels: 3, background: '#777' } }).png().toBuffer(), {}, 'RESOURCE_EXHAUSTED'],
    [
      'decompression bomb',
      async () => {
        const b = Buffer.from(await png(16, 16));
        b.writeUInt32BE(60000, 16);
        b.writeUInt32BE(60000, 20);
        b.writeUInt32BE(crc32(b.subarray(12, 29)), 29);
        return b;
      },
      {},
      'RESOURCE_EXHAUSTED',
    ],
    ['unsupported format (SVG)', async () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'), {}, 'INVALID_ARGUMENT'],
    ['max_slice_nums 0', async () => png(50, 50), { maxSliceNums: 0 }, 'INVALID_ARGUMENT'],
    ['max_slice_nums above the limit', async () => png(50, 50), { maxSliceNums: 37 }, 'INVALID_ARGUMENT'],
  ] as const)('%s', async (_name, make, options, code) => {
    const e = await fails(call(client, await make(), options));
    expect(e.code).toBe(code);
    if (code === 'RESOURCE_EXHAUSTED' || _name.startsWith('max_slice')) expect(e.message).toMatch(/limit|1\.\.36/);
    const ok = await call(client, await png(60, 40));
    expect(ok.slices).toHaveLength(1);
  });

  it('sha256 mismatch and a foreign model revision are refused', async () => {
    const image = await png(30, 30);
    expect((await fails(call(client, image, {}, { image: { source: { $case: 'data', data: image }, sha256: 'f'.repeat(64) } }))).code).toBe('INVALID_ARGUMENT');
    expect((await fails(call(client, image, {}, { modelRevision: 'other' }))).code).toBe('FAILED_PRECONDITION');
  });
});

describe('gRPC binding', () => {
  it('PlanSlices reads only the header; SliceAndEncode works and bad input maps to gRPC status', async () => {
    const big = await sharp({ create: { width: 1920, height: 1080, channels: 3, background: '#123456' } }).jpeg().toBuffer();
    const p = await grpc.planSlices({ image: { source: { $case: 'data', data: big }, sha256: '' } }, TENANT);
    expect(p.plan).toMatchObject({ gridCols: 4, gridRows: 2, overviewSize: { width: 602, height: 336 }, refineSize: { width: 1680, height: 952 }, visualTokenCount: 576, queryNum: 64 });
    const res = await grpc.sliceAndEncode({ image: { source: { $case: 'data', data: await png(80, 60) }, sha256: '' }, modelRevision: '' }, TENANT);
    expect(res.slices).toHaveLength(1);
    const e = TesseraError.from(await grpc.planSlices({ image: { source: { $case: 'data', data: Buffer.alloc(0) }, sha256: '' } }, TENANT).catch((x) => x));
    expect(e.code).toBe('INVALID_ARGUMENT');
  });
});
