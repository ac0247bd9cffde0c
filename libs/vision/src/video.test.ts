/**
 * 4.5 video planning: temporal ids on the 0.1-s grid and the upstream packing rule (≤ 180 frames → 1 per
 * group, else ceil(n/180) up to 3), and bad input refused naming the field and the limit.
 */
import { describe, expect, it } from 'vitest';
import { frameTemporalIds, planVideo } from './video.js';

const fieldOf = (f: () => unknown): { field?: string; limit?: string } => {
  try {
    f();
  } catch (e) {
    return (e as { details?: { field?: string; limit?: string } }).details ?? {};
  }
  throw new Error('did not throw');
};

describe('4.5 video plan', () => {
  it('temporal ids: nearest 0.1-s grid point of i/fps', () => {
    expect(frameTemporalIds(6, 10)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(frameTemporalIds(7, 3)).toEqual([0, 3, 7, 10, 13, 17, 20]);
    expect(frameTemporalIds(4, 1)).toEqual([0, 10, 20, 30]);
    expect(frameTemporalIds(5, 30)).toEqual([0, 0, 1, 1, 1]);
  });

  it('packing: 1 up to 180 frames, ceil(n / 180) above, groups of consecutive frames', () => {
    const short = planVideo({ frames: 90, fps: 3 });
    expect([short.packing, short.temporalIds.length, short.temporalIds[1]]).toEqual([1, 90, [3]]);
    const long = planVideo({ frames: 400, fps: 5 });
    expect(long.packing).toBe(3);
    expect(long.temporalIds.length).toBe(134);
    expect(long.temporalIds[0]).toEqual([0, 2, 4]);
    expect(long.temporalIds[133]).toEqual([798]);
    expect(planVideo({ frames: 12, fps: 10, packing: 6 }, { maxFrames: 180, maxPacking: 6 }).temporalIds).toEqual([[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]);
  });

  it('bad input names the field and the limit', () => {
    expect(fieldOf(() => planVideo({ frames: 541, fps: 10 }, undefined, 'messages[0].content[1].video'))).toMatchObject({ field: 'messages[0].content[1].video', limit: '1 <= frames <= 540' });
    expect(fieldOf(() => planVideo({ frames: 0, fps: 10 }))).toMatchObject({ field: 'video' });
    expect(fieldOf(() => planVideo({ frames: 10, fps: 10, packing: 4 }))).toMatchObject({ field: 'video.packing', limit: '1 <= packing <= 3' });
    expect(fieldOf(() => planVideo({ frames: 10, fps: 10, packing: 7 }, { maxFrames: 180, maxPacking: 9 }))).toMatchObject({ limit: '1 <= packing <= 6' });
    expect(fieldOf(() => planVideo({ frames: 10, fps: 0 }))).toMatchObject({ field: 'video.fps' });
    expect(fieldOf(() => planVideo({ frames: 2, fps: 1, sizes: [{ width: 640, height: 360 }, { width: 640, height: 480 }] }))).toMatchObject({ field: 'video[1]', limit: 'size = 640x360' });
  });
});
