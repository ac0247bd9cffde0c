/**
 * The slicer with a MiniCPM-V 4.6 model (tiny vision-only build): 56-px crops, the merger output as
 * the "features" (the visual tokens themselves, no resampler), the token mode per request, one
 * batcher per mode, and a mode the model lacks → INVALID_ARGUMENT naming downsample_mode.
 * Called in-process (localClient): the transports are covered by slicer.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tensorToFloat32, visionV1 } from '@tessera/contracts';
import { writeTinyVision46ModelDir } from '@tessera/model';
import { localClient, type ServiceClient } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import { EncoderCache } from '@tessera/vision';
import { loadSlicerConfig } from './config.js';
import { openAnySlicer, type OpenedAnySlicer } from './adapters/open-slicer.js';
import { createSlicerService } from './service.js';

const LLM_HIDDEN = 48;
let dir: string;
let slicer: OpenedAnySlicer;
let client: ServiceClient<typeof visionV1.SlicerServiceService>;
let png: Buffer;
const bus = withNats();
let cache: EncoderCache;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slicer46-'));
  writeTinyVision46ModelDir(dir, { llmHidden: LLM_HIDDEN });
  const c = loadSlicerConfig({});
  slicer = await openAnySlicer(dir, {
    runtime: { intraOpNumThreads: 1, allowSpinning: false },
    limits: { maxBytes: c.maxImageBytes, maxPixels: c.maxImagePixels, minSide: c.minImageSide, maxAspectRatio: c.maxAspectRatio, maxSliceNums: c.maxSliceNumsLimit },
    batchWindowMs: 1,
    maxBatch: 16,
    preprocessWorkers: 1,
  });
  cache = await EncoderCache.open(bus.nc, { bucket: 'slicer46-cache' });
  const impl = createSlicerService({ encoder: slicer.encoder, modelRevision: slicer.model.manifest.revision, queryNum: slicer.queryNum, useImageId: slicer.useImageId, nc: bus.nc, claim: {}, tensorRefThreshold: 1 << 30, cache });
  client = localClient(visionV1.SlicerServiceService, impl);
  png = await sharp({ create: { width: 1344, height: 896, channels: 3, background: '#80a0c0' } }).png().toBuffer();
}, 60_000);
afterAll(async () => {
  await slicer?.encoder.close();
  await slicer?.model.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('slicer with MiniCPM-V 4.6', () => {
  it('opens as family 4.6 without a resampler', () => {
    expect(slicer.family).toBe('4.6');
    expect(slicer.queryNum).toBe(0);
    expect(slicer.encoder.hiddenSize).toBe(LLM_HIDDEN);
  });

  it('16x by default: 560x392 overview + 6 slices of 448² → 70 + 6·64 tokens of the LLM width', async () => {
    const res = await client.sliceAndEncode({ image: { source: { $case: 'data', data: png }, sha256: '' }, modelRevision: '' });
    expect(res.plan!.overviewSize).toEqual({ width: 560, height: 392 });
    expect(res.plan!.tokensPerImage).toEqual([70, 64, 64, 64, 64, 64, 64]);
    expect(res.plan!.visualTokenCount).toBe(454);
    expect(res.plan!.options!.downsampleMode).toBe('16x');
    expect(res.slices.map((s) => [s.patchRows, s.patchCols])).toEqual([[7, 10], ...Array(6).fill([8, 8])]);
    for (const s of res.slices) expect(tensorToFloat32(s.features!).length).toBe(s.patchRows * s.patchCols * LLM_HIDDEN);
  });

  it('4x on request: four times the tokens, same crops', async () => {
    const res = await client.sliceAndEncode({ image: { source: { $case: 'data', data: png }, sha256: '' }, options: { downsampleMode: '4x', maxSliceNums: 1 }, modelRevision: '' });
    expect(res.plan!.tokensPerImage).toEqual([280]);
    expect(res.slices[0]).toMatchObject({ patchRows: 14, patchCols: 20 });
    expect(tensorToFloat32(res.slices[0].features!).length).toBe(280 * LLM_HIDDEN);
  });

  it('cache_visual_tokens: the slicer writes the concatenated tokens into the encoder cache (mode in the key)', async () => {
    const sha256 = createHash('sha256').update(png).digest('hex');
    const image = { source: { $case: 'data' as const, data: png }, sha256 };
    const plain = await client.sliceAndEncode({ image, options: { downsampleMode: '4x', maxSliceNums: 4, scaleResolution: 448 }, modelRevision: '' }, { tenant: 'acme' });
    const res = await client.sliceAndEncode({ image, options: { downsampleMode: '4x', maxSliceNums: 4, scaleResolution: 448 }, modelRevision: '', cacheVisualTokens: true }, { tenant: 'acme' });
    expect(res.cached).toBe(true);
    const total = res.plan!.tokensPerImage.reduce((a, b) => a + b, 0);
    expect(res.visualTokens!.shape).toEqual([total, LLM_HIDDEN]);
    expect(res.visualTokens!.data!.$case).toBe('ref');
    const key = { modelRevision: slicer.model.manifest.revision, tenant: 'acme', imageSha256: sha256, maxSliceNums: 4, scaleResolution: 448 };
    expect(await cache.lookup(key)).toBeNull(); // 2.6-style key (no mode) does not match
    const hit = await cache.lookup({ ...key, downsampleMode: '4x' });
    expect(hit).not.toBeNull();
    const bytes = await cache.read(hit!);
    const cached = new Float32Array(bytes!.buffer.slice(bytes!.byteOffset, bytes!.byteOffset + bytes!.byteLength));
    const expected = plain.slices.flatMap((s) => Array.from(tensorToFloat32(s.features!)));
    expect(Array.from(cached)).toEqual(expected);
    expect(await cache.lookup({ ...key, downsampleMode: '16x' })).toBeNull();
    // No sha256 → named; the tokens would have no cache key.
    await expect(client.sliceAndEncode({ image: { ...image, sha256: '' }, modelRevision: '', cacheVisualTokens: true }, { tenant: 'acme' })).rejects.toMatchObject({ details: { field: 'image.sha256' } });
  });

  it('a mode the model does not have → INVALID_ARGUMENT naming downsample_mode', async () => {
    await expect(client.sliceAndEncode({ image: { source: { $case: 'data', data: png }, sha256: '' }, options: { downsampleMode: '8x' }, modelRevision: '' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { field: 'downsample_mode' },
    });
  });
});
