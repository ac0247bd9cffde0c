/**
 * Image cost moves forward from admission: the orchestrator prices a request's images once (header and
 * slice plan, before any pixel is decoded) and chat() charges the tenant that same number — it is not
 * computed a second time. A tenant budget smaller than the request's cost makes the charge refuse before
 * any stage is called, so this runs on a real nats-server with no slicer, resampler or decoder.
 */
import sharp from 'sharp';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { consoleLogger } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import { EncoderCache, ImageStore } from '@tessera/vision';
import { ImageCostBudget, imageCost } from '../tenancy/image-cost.js';
import type { Tenant } from '../tenancy/api-keys.js';
import type { ValidChatRequest } from '../openai/valid-request.js';
import { ChatOrchestrator } from './chat-orchestrator.js';
import { ImagePipeline } from './image-pipeline.js';
import type { ModelInfo } from './model-catalog.js';
import { TEST_IMAGE_PIPELINE_OPTIONS } from './test/image-pipeline-options.js';

const bus = withNats();
let images: ImagePipeline;

beforeAll(async () => {
  images = new ImagePipeline(bus.nc, await EncoderCache.open(bus.nc, { bucket: 'gwc-cache' }), await ImageStore.open(bus.nc, { bucket: 'gwc-images' }), 'rev', 64, TEST_IMAGE_PIPELINE_OPTIONS);
}, 60_000);

describe('image cost: computed at admission, charged as is', () => {
  it('checkRequest runs once per request and charge() gets its result', async () => {
    const budget = new ImageCostBudget(256, 2048);
    const check = vi.spyOn(budget, 'checkRequest');
    const charge = vi.spyOn(budget, 'charge');
    // The orchestrator touches the model only once the decoder is called, which this test never reaches.
    const model = { id: 'm', revision: 'rev', queryNum: 64, family: '2.6' } as ModelInfo;
    const chat = new ChatOrchestrator(bus.nc, model, images, consoleLogger('test', 'error'), { recordResponses: false, decoderWorkQueue: false, imageCost: budget });
    const png = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: { r: 9, g: 40, b: 90 } } }).png().toBuffer();
    const sources = [
      { kind: 'bytes' as const, bytes: await png(1344, 896), field: 'messages[0].content[0].image_url' },
      { kind: 'bytes' as const, bytes: await png(640, 480), field: 'messages[0].content[1].image_url' },
    ];
    const req = { model: 'm', messages: [], images: sources, maxSliceNums: 9 } as unknown as ValidChatRequest;
    // 0.01 megapixel-slices a minute: the charge refuses, naming the cost it was given.
    const tenant: Tenant = { id: 'acme', quota: { requestsPerMinute: 10, tokensPerMinute: 1000, concurrentStreams: 1, maxImagePixels: 1e8, maxImagesPerRequest: 8, imageCostPerMinute: 0.01 } };
    const ctx = { tenant, responseId: 'r1', requestId: 'q1', deadline: Date.now() + 30_000, signal: new AbortController().signal };

    await expect(chat.chat(req, ctx)[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect(check).toHaveBeenCalledTimes(1);
    const admitted = check.mock.results[0]!.value as number;
    expect(admitted).toBeGreaterThan(0);
    expect(charge).toHaveBeenCalledTimes(1);
    expect(charge.mock.calls[0]![1]).toBe(admitted);
    // …and it is the images' price: 1344×896 at 9 slices plus 640×480.
    const priced = check.mock.calls[0]![0].map(imageCost);
    expect(admitted).toBeCloseTo(priced.reduce((a, b) => a + b, 0), 2);
  });
});
