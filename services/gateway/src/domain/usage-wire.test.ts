import { describe, expect, it } from 'vitest';
import { usageFromWire, usageToWire } from './usage-wire.js';

describe('usage on the wire', () => {
  it('carries the prefix-cached prompt tokens both ways; a sender that does not know them means 0', () => {
    const usage = { promptTokens: 90, visualTokens: 64, completionTokens: 7, cachedTokens: 48 };
    expect(usageToWire(usage)).toEqual({ promptTokens: 90, visualTokens: 64, completionTokens: 7, totalTokens: 97, cachedTokens: 48 });
    expect(usageFromWire(usageToWire(usage))).toEqual(usage);
    expect(usageFromWire({ promptTokens: 5, visualTokens: 0, completionTokens: 1, totalTokens: 6 })).toEqual({ promptTokens: 5, visualTokens: 0, completionTokens: 1, cachedTokens: 0 });
    expect(usageFromWire(undefined)).toEqual({ promptTokens: 0, visualTokens: 0, completionTokens: 0, cachedTokens: 0 });
  });
});
