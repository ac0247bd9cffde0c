/**
 * Video admission at the gateway (MiniCPM-V 4.5): frames are admitted unsliced (max_slice_nums 1, the
 * upstream recipe's video setting), packed by the upstream rule with 0.1-s temporal ids; frames of
 * different sizes → 400 naming the frame; long videos split into resampler calls of whole groups; the
 * prompt estimate sees one gridless, id-less image per group. (Encoding through the real slicer and
 * resampler, and the decoder's prompt, are covered by e2e/src/video45.e2e.test.ts.)
 */
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { withNats } from '@tessera/testing/vitest';
import { EncoderCache, ImageStore } from '@tessera/vision';
import { buildPromptIds45, ensureTinyModel45Paths, Tokenizer } from '@tessera/model';
import { ImagePipeline } from './image-pipeline.js';
import { TEST_IMAGE_PIPELINE_OPTIONS } from './test/image-pipeline-options.js';
import { estimatePromptTokens45 } from './prompt-estimate.js';
import { resampleCalls, videoGroupsAsImages, VideoPipeline } from './video-pipeline.js';
import { loadGatewayConfig } from '../../config.js';
import type { ValidChatRequest } from '../openai/valid-request.js';

const bus = withNats();
let videos: VideoPipeline;
const frame = (w: number, h: number, seed: number) => sharp({ create: { width: w, height: h, channels: 3, background: { r: seed, g: 40, b: 90 } } }).png().toBuffer();
const src = (bytes: Buffer[]) => bytes.map((b, i) => ({ kind: 'bytes' as const, bytes: b, field: `messages[0].content[0].video[${i}]` }));

beforeAll(async () => {
  const images = new ImagePipeline(bus.nc, await EncoderCache.open(bus.nc, { bucket: 'gwv-cache' }), await ImageStore.open(bus.nc, { bucket: 'gwv-images' }), 'rev45', 64, TEST_IMAGE_PIPELINE_OPTIONS);
  videos = new VideoPipeline(images, 'rev45', { maxFramesPerCall: loadGatewayConfig({ TESSERA_MODEL_DIR: '/m', TESSERA_GATEWAY_API_KEYS_FILE: '/k' }).videoFramesPerCall });
}, 60_000);

describe('gateway video admission (4.5)', () => {
  it('frames are unsliced overviews; 1 frame per group up to 180 frames; ids = 0.1-s grid of i/fps', async () => {
    const bytes = await Promise.all([0, 1, 2, 3].map((i) => frame(1344, 896, i)));
    const [v] = await videos.admit([{ field: 'messages[0].content[0].video', frames: src(bytes), fps: 2 }], 1e8);
    expect(v!.frames.map((f) => [f.maxSliceNums, f.plan.grid, f.plan.slices.length])).toEqual(new Array(4).fill([1, null, 0]));
    expect(v!.plan).toEqual({ packing: 1, temporalIds: [[0], [5], [10], [15]] });
    const [packed] = await videos.admit([{ field: 'f', frames: src([...bytes, ...bytes]), fps: 10, packing: 3 }], 1e8);
    expect(packed!.plan.temporalIds).toEqual([[0, 1, 2], [3, 4, 5], [6, 7]]);
  });

  it('a frame of another size, or packing out of range → 400 naming it', async () => {
    const bytes = [await frame(640, 480, 1), await frame(480, 640, 2)];
    await expect(videos.admit([{ field: 'messages[0].content[0].video', frames: src(bytes), fps: 1 }], 1e8)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'messages[0].content[0].video[1]' } });
    await expect(videos.admit([{ field: 'messages[0].content[0].video', frames: src([bytes[0]!]), fps: 1, packing: 7 }], 1e8)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { field: 'messages[0].content[0].video.packing', limit: '1 <= packing <= 3' },
    });
  });

  it('resampler calls hold whole groups, at most maxFrames frames each', () => {
    const plan = { packing: 3, temporalIds: [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]] };
    expect(resampleCalls(plan, 7)).toEqual([
      { start: 0, frames: 6, groupSizes: [3, 3], temporalIds: [0, 1, 2, 3, 4, 5] },
      { start: 6, frames: 4, groupSizes: [3, 1], temporalIds: [6, 7, 8, 9] },
    ]);
    expect(resampleCalls(plan, 37)).toHaveLength(1);
  });

  it('the prompt estimate counts one 64-slot <image> per group, without <image_id>', async () => {
    const tok = Tokenizer.fromDir((await ensureTinyModel45Paths()).model);
    const bytes = await Promise.all([0, 1, 2, 3, 4].map((i) => frame(448, 448, i)));
    const [v] = await videos.admit([{ field: 'f', frames: src(bytes), fps: 10, packing: 2 }], 1e8);
    const req = { messages: [{ role: 'user', parts: [{ kind: 'video', index: 0 }, { kind: 'text', text: 'What happens?' }] }], images: [] } as unknown as ValidChatRequest;
    const { req: asImages, images } = videoGroupsAsImages(req, [], [v!]);
    expect(asImages.messages[0]!.parts).toEqual([{ kind: 'image', index: 0 }, { kind: 'image', index: 1 }, { kind: 'image', index: 2 }, { kind: 'text', text: 'What happens?' }]);
    // The 4.5 estimate (the decoder's template builder) over the expansion = the decoder's prompt for three id-less groups.
    const group = { tokensPerImage: [64], grid: null, useImageId: false };
    const decoder = buildPromptIds45(tok, [{ role: 'user', content: [{ type: 'image' }, { type: 'image' }, { type: 'image' }, { type: 'text', text: 'What happens?' }] }], [group, group, group], { enableThinking: false });
    expect(estimatePromptTokens45({ messages: asImages.messages, enableThinking: false }, images, tok, { queryNum: 64, useImageId: false })).toBe(decoder.ids.length);
  });
});
