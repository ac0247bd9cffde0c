/**
 * MiniCPM-V 4.5 video through the whole stack (tiny 4.5 checkpoint: nats-server + every service as its own
 * process, the resampler included), driven only through the gateway's public HTTP API:
 *  - a `{"type": "video"}` part (frames as data URLs, fps, packing) streams an answer; usage.prompt_tokens
 *    equals the upstream processor's rule for the same frames (the checkpoint's template rendered with one
 *    image tag per frame, each group's first tag replaced by `<image><unk>×64</image>` without
 *    `<image_id>`, the other frames' tags and the text before them stripped), 64 image tokens per group;
 *  - `video_url` → 400 naming `messages[0].content[0].video_url`; frames of different sizes → 400 naming
 *    the frame; packing over the upstream maximum → 400 naming `…video.packing` with the limit.
 * (2.6 and 4.6 refuse a video part naming it: validate-video.test.ts, assemble-prompt.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { modelIdFor, type RunningStack } from '@tessera/local-stack';
import { buildPromptIds45, IMAGE_TAG_45, imagePlaceholderText45, Tokenizer } from '@tessera/model';
import { commonV1, gatewayV1 } from '@tessera/contracts';
import { grpcClient } from '@tessera/runtime';
import { finalOf, readSse, textOf } from './sse.js';
import { startFamilyStack, type FamilyStack } from './family-stack.js';

const KEY = 'sk-e2e-45';
const MODEL = modelIdFor('4.5');
let stack: RunningStack;
let tok: Tokenizer;

async function frame(width: number, height: number, seed: number): Promise<string> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 13 + seed * 71 + ((i / 3 / width) | 0)) & 0xff;
  return `data:image/png;base64,${(await sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer()).toString('base64')}`;
}
const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
function chat(body: Record<string, unknown>): Promise<Response> {
  return fetch(`${stack.httpUrl}/v1/chat/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ model: MODEL, max_tokens: 6, seed: 1, temperature: 0, ...body }) });
}

/** The upstream processor's prompt for frames grouped as `groups` (frame indices) and a question after them. */
function processorIds(groups: number[][], question: string): number[] {
  const frames = groups.flat().length;
  const content = [...new Array(frames).fill(IMAGE_TAG_45), question].join('\n');
  const chunks = tok.applyChatTemplate([{ role: 'user', content }], { addGenerationPrompt: true, enableThinking: false }).split(IMAGE_TAG_45);
  const firsts = new Set(groups.map((g) => g[0]));
  let full = '';
  for (let i = 0; i < frames; i++) full += firsts.has(i) ? chunks[i]! + imagePlaceholderText45({ tokensPerImage: [64], grid: null, useImageId: false }, i) : chunks[i]!.trim();
  return tok.encode(full + chunks[frames]);
}

let family: FamilyStack | undefined;
beforeAll(async () => {
  family = await startFamilyStack('4.5', KEY);
  ({ stack, tok } = family);
}, 420_000);

afterAll(async () => {
  await family?.stop();
});

describe('MiniCPM-V 4.5 video (frames) through the API', () => {
  it('streams an answer; prompt tokens = the processor rule (5 frames packed 2 per group = 3 groups × 64)', async () => {
    const models = (await (await fetch(`${stack.httpUrl}/v1/models`, { headers: auth })).json()) as any;
    expect(models.data[0]).toMatchObject({ id: MODEL, family: '4.5' });
    const frames = await Promise.all([0, 1, 2, 3, 4].map((i) => frame(320, 240, i)));
    const question = 'What happens in this clip?';
    const res = await chat({ stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: [{ type: 'video', video: frames, fps: 2, packing: 2 }, { type: 'text', text: question }] }] });
    expect(res.status).toBe(200);
    const { chunks, done } = await readSse(res);
    expect(done).toBe(true);
    const final = finalOf(chunks);
    expect(final.usage.prompt_tokens).toBe(processorIds([[0, 1], [2, 3], [4]], question).length);
    expect(final.usage.prompt_tokens_details.image_tokens).toBe(3 * 64);
    expect(final.usage.completion_tokens).toBeGreaterThan(0);
    expect(textOf(chunks).length).toBeGreaterThan(0);
    expect(final.tessera.timings_ms).toMatchObject({ video_frames: 5 });
    expect(final.tessera.timings_ms.resample_ms).toBeGreaterThan(0);
    expect(final.tessera.timings_ms.vision_encode_ms).toBeGreaterThan(0);
  });

  it('default packing (≤ 180 frames → 1 per group) with an image before the video: no <image_id> anywhere', async () => {
    const frames = await Promise.all([5, 6].map((i) => frame(320, 240, i)));
    const image = await frame(300, 200, 9);
    const res = await chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: image } }, { type: 'video', video: frames, fps: 1 }, { type: 'text', text: 'Same scene?' }] }] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    // image (overview only at 300×200, 64 slots) + two one-frame groups, none with <image_id>
    // (upstream passes use_image_id=False to the whole chat that carries a video).
    expect(body.usage.prompt_tokens_details.image_tokens).toBe(3 * 64);
    const noId = { tokensPerImage: [64], grid: null, useImageId: false };
    const { ids } = buildPromptIds45(tok, [{ role: 'user', content: [{ type: 'image' }, { type: 'image' }, { type: 'image' }, { type: 'text', text: 'Same scene?' }] }], [noId, noId, noId], { enableThinking: false });
    expect(body.usage.prompt_tokens).toBe(ids.length);
    expect(body.choices[0].message.content.length).toBeGreaterThan(0);
  });

  it('gRPC: a VideoContent part of frame bytes is the same video (2 frames packed 2 = one group of 64)', async () => {
    const client = grpcClient(gatewayV1.GatewayServiceService, stack.grpcAddress);
    const frames = await Promise.all([1, 2].map(async (i) => ({ source: { $case: 'data' as const, data: Buffer.from((await frame(320, 240, i)).split(',')[1]!, 'base64') } })));
    const chunks: gatewayV1.ChatCompletionResponse[] = [];
    for await (const c of client.chatCompletion(
      {
        model: MODEL,
        messages: [{ role: commonV1.Role.USER, content: [{ part: { $case: 'video', video: { frames, fps: 4, packing: 2 } } }, { part: { $case: 'text', text: 'What?' } }] }],
        sampling: { maxTokens: 4, stop: [], stopTokenIds: [], topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, logprobs: false, topLogprobs: 0, temperature: 0 },
        user: '',
        tools: [],
        toolChoice: '',
      } as gatewayV1.ChatCompletionRequest,
      { headers: { authorization: `Bearer ${KEY}` }, timeoutMs: 120_000 },
    ))
      chunks.push(c);
    expect(chunks.at(-1)!.usage!.visualTokens).toBe(64);
    expect(chunks.at(-1)!.usage!.promptTokens).toBe(processorIds([[0, 1]], 'What?').length);
    client.close();
  });

  it('bad video input → 400 naming the field', async () => {
    const f = await frame(320, 240, 1);
    const cases: Array<[unknown[], string]> = [
      [[{ type: 'video_url', video_url: { url: 'https://example.com/clip.mp4' } }], 'messages[0].content[0].video_url'],
      [[{ type: 'video', video: [f, await frame(240, 320, 2)], fps: 1 }], 'messages[0].content[0].video[1]'],
      [[{ type: 'video', video: [f], fps: 1, packing: 9 }], 'messages[0].content[0].video.packing'],
      [[{ type: 'video', video: [f] }], 'messages[0].content[0].fps'],
    ];
    for (const [content, param] of cases) {
      const res = await chat({ messages: [{ role: 'user', content }] });
      expect(res.status, param).toBe(400);
      expect(((await res.json()) as any).error.param).toBe(param);
    }
  });
});
