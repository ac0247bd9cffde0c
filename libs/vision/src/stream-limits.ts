import { DiscardPolicy, type JetStreamManager } from 'nats';

/**
 * Applies a bucket's configured limits to its backing stream (`KV_<bucket>`, `OBJ_<bucket>`): binding
 * to an existing bucket keeps the settings it was created with, so without this a changed TTL or cap
 * would not take effect on restart. Also sets discard=old, which the client libraries do not, so a
 * full bucket drops its oldest entries instead of refusing writes. Shared by EncoderCache and ImageStore.
 */
export async function applyStreamLimits(jsm: JetStreamManager, stream: string, limits: { maxAgeNs: number; maxBytes: number; replicas?: number }): Promise<void> {
  const { config } = await jsm.streams.info(stream);
  const want = { discard: DiscardPolicy.Old, max_age: limits.maxAgeNs, max_bytes: limits.maxBytes, num_replicas: limits.replicas ?? config.num_replicas };
  if (config.discard !== want.discard || config.max_age !== want.max_age || config.max_bytes !== want.max_bytes || config.num_replicas !== want.num_replicas) {
    await jsm.streams.update(stream, { ...config, ...want });
  }
}
