/**
 * Image admission for a MiniCPM-V 4.6 model at the gateway: the plan uses 56-px sides, the request's
 * `mm_processor_kwargs.downsample_mode` (16x default) sets the tokens per image, and a mode the
 * served family does not have is refused naming the field — before any image is stored or encoded.
 * (The slicer side of the 4.6 path, which writes the tokens into the encoder cache, is covered in
 * services/slicer/src/slicer46.test.ts.)
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { visionV1 } from '@tessera/contracts';
import { bindNats, TesseraError, type NatsBinding } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import { EncoderCache, ImageStore, slicePlanFromProto } from '@tessera/vision';
import { ImagePipeline } from './image-pipeline.js';
import { TEST_IMAGE_PIPELINE_OPTIONS } from './test/image-pipeline-options.js';

const bus = withNats();
let pipeline46: ImagePipeline;
let pipeline26: ImagePipeline;
let png: Buffer;

beforeAll(async () => {
  const cache = await EncoderCache.open(bus.nc, { bucket: 'gw46-cache' });
  const store = await ImageStore.open(bus.nc, { bucket: 'gw46-images' });
  pipeline46 = new ImagePipeline(bus.nc, cache, store, 'rev46', 0, { ...TEST_IMAGE_PIPELINE_OPTIONS, family: '4.6' });
  pipeline26 = new ImagePipeline(bus.nc, cache, store, 'rev26', 64, TEST_IMAGE_PIPELINE_OPTIONS);
  png = await sharp({ create: { width: 1344, height: 896, channels: 3, background: '#204060' } }).png().toBuffer();
}, 60_000);

const src = () => [{ kind: 'bytes' as const, bytes: png, field: 'messages[0].content[0].image_url.url' }];

describe('gateway image admission, MiniCPM-V 4.6', () => {
  it('16x by default: 56-px plan, per-image tokens, their sum as the visual token count', async () => {
    const [img] = await pipeline46.admit(src(), undefined, 1e8);
    expect(img.plan.overview).toEqual({ width: 560, height: 392 });
    expect(img.downsampleMode).toBe('16x');
    expect(img.tokensPerImage).toEqual([70, 64, 64, 64, 64, 64, 64]);
    expect(pipeline46.visualTokens(img)).toBe(454);
  });

  it('4x on request', async () => {
    const [img] = await pipeline46.admit(src(), 1, 1e8, '4x');
    expect(img.tokensPerImage).toEqual([280]);
    expect(pipeline46.visualTokens(img)).toBe(280);
  });

  it('a mode the family does not have → INVALID_ARGUMENT naming mm_processor_kwargs.downsample_mode (also without images)', async () => {
    await expect(pipeline46.admit(src(), undefined, 1e8, '8x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'mm_processor_kwargs.downsample_mode' } });
    await expect(pipeline26.admit([], undefined, 1e8, '4x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'mm_processor_kwargs.downsample_mode' } });
  });

  it('2.6 is unchanged: 14-px plan, 64 tokens per image, no layout', async () => {
    const [img] = await pipeline26.admit(src(), undefined, 1e8);
    expect(img.plan.overview).toEqual({ width: 546, height: 364 });
    expect(img.tokensPerImage).toBeUndefined();
    expect(pipeline26.visualTokens(img)).toBe(7 * 64);
  });
});

describe('the admission plan travels with the work (the image is planned once)', () => {
  const seen: visionV1.SliceAndEncodeRequest[] = [];
  let slicer: NatsBinding;
  beforeAll(async () => {
    // A slicer that records what it was asked and refuses: what the gateway sends is the point here
    // (the slicer cutting a given plan is covered in services/slicer/src/slicer.test.ts).
    const impl = {
      async sliceAndEncode(req: visionV1.SliceAndEncodeRequest): Promise<visionV1.SliceAndEncodeResponse> {
        seen.push(req);
        throw new TesseraError('FAILED_PRECONDITION', 'recording slicer');
      },
      async planSlices(): Promise<visionV1.PlanSlicesResponse> {
        throw new TesseraError('UNIMPLEMENTED', 'not used');
      },
    };
    slicer = await bindNats(bus.nc, visionV1.SlicerServiceService, impl, { serviceName: 'slicer', workQueue: { stage: 'slicer', methods: ['sliceAndEncode'], maxDeliver: 1 } });
  });
  afterAll(() => slicer?.stop(1000));

  it.each([
    ['2.6', () => pipeline26, undefined],
    ['4.6', () => pipeline46, [70, 64, 64, 64, 64, 64, 64]],
  ] as const)('%s: SliceAndEncode carries the plan the prompt was laid out from', async (_family, pipeline, tokens) => {
    const [img] = await pipeline().admit(src(), undefined, 1e8);
    seen.length = 0;
    await expect(pipeline().encode(img, { tenant: `plan-${_family}`, timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(seen).toHaveLength(1);
    const plan = seen[0].plan!;
    expect(slicePlanFromProto(plan)).toEqual(img.plan);
    expect(plan.sliceBoxes).toHaveLength(6);
    expect(plan.tokensPerImage).toEqual(tokens ?? []);
  });
});
