import { describe, expect, it } from 'vitest';
import { timingsFromWire, timingsToWire } from './timings-wire.js';

describe('stage timings on the wire', () => {
  it('every timings_ms name survives StageTimings and back; unset fields stay unset; encoder_cache_hit from the image counts', () => {
    const t = { retrieval_ms: 1, image_preprocess_ms: 2, vision_encode_ms: 3, resample_ms: 4, decoder_queue_ms: 5, prefill_ms: 6, time_to_first_token_ms: 7, decode_per_token_ms: 8, decode_ms: 9, total_ms: 10 };
    const wire = timingsToWire({ ...t, images: 2, encoder_cache_hits: 2 });
    expect(wire).toMatchObject({ queueMs: 5, retrievalMs: 1, totalMs: 10, encoderCacheHit: true });
    expect(timingsFromWire(wire)).toEqual(t);
    expect(timingsFromWire(timingsToWire({ total_ms: 3 }))).toEqual({ total_ms: 3 });
    expect(timingsToWire({ images: 2, encoder_cache_hits: 1 }).encoderCacheHit).toBe(false);
    expect(timingsFromWire(undefined)).toEqual({});
  });
});
