import type { commonV1 } from '@tessera/contracts';

/**
 * The answer's per-stage timings: `tessera.timings_ms` names (the orchestrator's, the HTTP API's) ↔
 * `tessera.common.v1.StageTimings` fields (the gRPC edge, the uplink's answers). One table both ways.
 */
const FIELDS = [
  ['retrieval_ms', 'retrievalMs'],
  ['image_preprocess_ms', 'imagePreprocessMs'],
  ['vision_encode_ms', 'visionEncodeMs'],
  ['resample_ms', 'resampleMs'],
  ['decoder_queue_ms', 'queueMs'],
  ['prefill_ms', 'prefillMs'],
  ['time_to_first_token_ms', 'timeToFirstTokenMs'],
  ['decode_per_token_ms', 'decodePerTokenMs'],
  ['decode_ms', 'decodeMs'],
  ['total_ms', 'totalMs'],
] as const;

/** timings_ms → StageTimings; with image counts, `encoder_cache_hit` says whether every image was a hit. */
export function timingsToWire(t: Record<string, number>): commonV1.StageTimings {
  const out: commonV1.StageTimings = {};
  for (const [name, field] of FIELDS) out[field] = t[name];
  if (t.images !== undefined) out.encoderCacheHit = t.encoder_cache_hits === t.images;
  return out;
}

/** StageTimings → timings_ms, the fields that are set. */
export function timingsFromWire(t: commonV1.StageTimings | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, field] of FIELDS) {
    const v = t?.[field];
    if (typeof v === 'number') out[name] = v;
  }
  return out;
}
