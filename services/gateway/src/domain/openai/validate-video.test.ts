/**
 * `{"type": "video"}` content parts at the edge: a 4.5 model takes frames + fps (+ packing) and a video is
 * indexed like an image; a family without video (2.6, 4.6), `video_url`, and every limit → 400 naming the field.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CHAT_LIMITS, type ChatLimits } from './limits.js';
import { modelFeatures } from './response-format.js';
import { validateChatRequest } from './validate-chat.js';
import { refusalOf } from './test/refusal.js';

const MODEL = 'minicpm-v-4_5';
const FRAME = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';
const video = (extra: Record<string, unknown> = {}) => ({ type: 'video', video: [FRAME, FRAME, FRAME], fps: 2, ...extra });
const body = (content: unknown[], role = 'user') => ({ model: MODEL, messages: [{ role, content }] });

function validate(b: unknown, family = '4.5', limits: ChatLimits = DEFAULT_CHAT_LIMITS) {
  return validateChatRequest(b, limits, [MODEL], modelFeatures(family));
}

function fieldOf(b: unknown, family = '4.5', limits: ChatLimits = DEFAULT_CHAT_LIMITS): { field: string | undefined; limit: string | undefined; message: string } {
  return refusalOf(() => validate(b, family, limits));
}

describe('video content parts', () => {
  it('4.5: frames, fps and packing are kept; the part points at the request\'s videos, images keep their own indices', () => {
    const v = validate(body([{ type: 'image_url', image_url: { url: FRAME } }, video({ packing: 3 }), { type: 'text', text: 'What happens?' }]));
    expect(v.messages[0]!.parts).toEqual([{ kind: 'image', index: 0 }, { kind: 'video', index: 0 }, { kind: 'text', text: 'What happens?' }]);
    expect(v.images).toHaveLength(1);
    expect(v.videos).toHaveLength(1);
    expect(v.videos![0]).toMatchObject({ field: 'messages[0].content[1].video', fps: 2, packing: 3 });
    expect(v.videos![0]!.frames.map((f) => f.field)).toEqual([0, 1, 2].map((i) => `messages[0].content[1].video[${i}]`));
    expect(validate(body([video()])).videos![0]!.packing).toBeUndefined();
    // A frame may also be {url}, as image_url parts allow.
    expect(validate(body([video({ video: [{ url: FRAME }] })])).videos![0]!.frames).toHaveLength(1);
  });

  it('2.6 and 4.6 have no video input: 400 naming the part', () => {
    for (const family of ['2.6', '4.6']) {
      const e = fieldOf(body([{ type: 'text', text: 'x' }, video()]), family);
      expect(e.field).toBe('messages[0].content[1].type');
      expect(e.message).toContain(`MiniCPM-V ${family} has no video input`);
    }
  });

  it('video_url is refused naming the field and saying frames are expected (no video decoder)', () => {
    const e = fieldOf(body([{ type: 'video_url', video_url: { url: 'https://example.com/a.mp4' } }]));
    expect(e.field).toBe('messages[0].content[0].video_url');
    expect(e.message).toMatch(/no maintained pure-npm video decoder/);
    expect(e.message).toMatch(/"type": "video", "video": \[frame image URLs\]/);
  });

  it('limits and shapes: frames, videos per request, fps, packing type, frame URLs, role', () => {
    const small: ChatLimits = { ...DEFAULT_CHAT_LIMITS, maxVideoFrames: 2, maxVideosPerRequest: 1 };
    expect(fieldOf(body([video()]), '4.5', small)).toMatchObject({ field: 'messages[0].content[0].video', limit: '1 <= frames <= 2' });
    expect(fieldOf(body([video({ video: [] })]))).toMatchObject({ field: 'messages[0].content[0].video', limit: '1 <= frames <= 64' });
    expect(fieldOf(body([video(), video()]))).toMatchObject({ field: 'messages[0].content[1]', limit: 'videos per request <= 1' });
    expect(fieldOf(body([video({ fps: 0 })]))).toMatchObject({ field: 'messages[0].content[0].fps', limit: '0 < fps <= 1000' });
    expect(fieldOf(body([video({ fps: '2' })])).field).toBe('messages[0].content[0].fps');
    expect(fieldOf(body([video({ packing: 1.5 })])).field).toBe('messages[0].content[0].packing');
    expect(fieldOf(body([video({ video: [FRAME, 'ftp://x/y.png'] })])).field).toBe('messages[0].content[0].video[1]');
    expect(fieldOf(body([video({ video: [FRAME, 7] })])).field).toBe('messages[0].content[0].video[1]');
    expect(fieldOf(body([video({ video: 'x' })])).field).toBe('messages[0].content[0].video');
    expect(fieldOf({ model: MODEL, messages: [{ role: 'system', content: [video()] }, { role: 'user', content: 'x' }] }).field).toBe('messages[0].content[0].type');
  });
});
