import { describe, expect, it } from 'vitest';
import { planSlices } from '@tessera/vision';
import type { Tenant } from './api-keys.js';
import { ImageCostBudget, imageCost } from './image-cost.js';

const img = (width: number, height: number, field = 'messages[0].content[0].image_url') => ({ field, width, height, plan: planSlices(width, height, { maxSliceNums: 9, scaleResolution: 448 }) });
const tenant = (imageCostPerMinute?: number): Tenant =>
  ({ id: 'acme', quota: { requestsPerMinute: 1, tokensPerMinute: 1, concurrentStreams: 1, maxImagePixels: 1, maxImagesPerRequest: 1, ...(imageCostPerMinute !== undefined && { imageCostPerMinute }) } });

describe('image cost admission', () => {
  it('prices decoded megapixels × (1 + slices) from the header and plan', () => {
    expect(imageCost(img(6000, 6000))).toBe(360); // 36 MP, 9 slices
    expect(imageCost(img(448, 448))).toBeCloseTo(0.2, 2); // no slices
  });

  it('refuses the cheap-to-send but huge image with the per-request limit named (400)', () => {
    const budget = new ImageCostBudget(256, 2048);
    expect(budget.checkRequest([img(4032, 3024)])).toBeCloseTo(122, 0);
    let err: unknown;
    try {
      budget.checkRequest([img(1344, 896), img(6000, 6000, 'messages[0].content[1].image_url')]);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'messages[0].content[1].image_url', limit: 'image_cost_per_request <= 256 megapixel-slices' } });
  });

  it('charges a per-tenant budget per minute and names it with a retry time when spent (429)', () => {
    let now = 0;
    const budget = new ImageCostBudget(256, 2048, () => now);
    const t = tenant(300);
    budget.charge(t, 200);
    expect(() => budget.charge(t, 200)).toThrowError(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED', details: expect.objectContaining({ limit: 'image_cost_per_minute = 300 megapixel-slices', retryAfterMs: 20_000 }) }));
    now = 20_000; // refilled 100 in 20 s
    expect(() => budget.charge(t, 200)).not.toThrow();
  });
});
