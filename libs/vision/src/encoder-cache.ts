/**
 * Encoder cache: (model revision, tenant, image sha256, slicing options) → the image's visual
 * tokens, so a repeated image skips the slicer and the resampler entirely.
 *
 * Storage, both named `bucket` (default `tessera-encoder-cache`):
 * - a JetStream KV bucket: key `<tenant hex>.<sha256 of the key tuple>` → JSON entry (ObjectRef,
 *   dtype, shape, plan, revision, createdAt); history 1, max age = TTL;
 * - a JetStream object store: object `<tenant hex>.<sha256 of the bytes>` → the token tensor, written
 *   and read through @tessera/runtime's claim-check functions (node:crypto hashing, tenant-scoped
 *   names): the entry's ObjectRef carries the bare sha256 and only the owning tenant resolves it.
 *   The resampler writes here itself, and the decoder reads the same reference: the token bytes
 *   cross the bus twice per miss (write, read), never through the gateway.
 * Both streams get max_bytes = the size cap with discard=old, so a full cache drops its oldest
 * entries instead of refusing new ones. The tenant is hex-encoded into every name so no subject
 * wildcard of one tenant can match another's ("a.>" must not match tenant "a.b"), and purging a
 * tenant deletes only its own keys and blobs (blobs are never shared across tenants).
 */
import { nanos, type JetStreamManager, type KV, type NatsConnection } from 'nats';
import { invalidArgument, sha256Hex } from '@tessera/errors';
import { getPayload, purgeTenantPayloads, putPayload, statPayload, type ObjectMeta } from '@tessera/runtime';
import { applyStreamLimits } from './stream-limits.js';

export interface EncoderCacheOptions {
  /** KV + object store bucket name. Default `tessera-encoder-cache`. */
  bucket?: string;
  /** Entry lifetime. Default 24 h. */
  ttlMs?: number;
  /** Size cap of the stored tokens (object store) in bytes. Default 1 GiB. */
  maxBytes?: number;
  /** JetStream replicas of the KV and object store (TESSERA_JETSTREAM_REPLICAS; 3 on a 3-node cluster). Default 1. */
  replicas?: number;
}

export interface EncoderCacheKey {
  modelRevision: string;
  tenant: string;
  imageSha256: string;
  /** Effective slicing options (they change the features). use_image_id does not and is not part of the key. */
  maxSliceNums: number;
  scaleResolution: number;
  /** MiniCPM-V 4.6 token mode ("16x" | "4x"): changes the tokens. Unset for 2.6 (its keys stay as they were). */
  downsampleMode?: string;
}

export interface CachedObjectRef {
  bucket: string;
  /** sha256 of the token bytes; the object is named `<tenant hex>.<key>` (tenant-scoped). */
  key: string;
  size: number;
}

export interface EncoderCacheEntry {
  ref: CachedObjectRef;
  /** Element type name, e.g. `float32`. */
  dtype: string;
  /** [images, queryNum, hidden] */
  shape: number[];
  /** The slice plan (JSON) when the writer knew it; the gateway plans from the image header instead. */
  plan?: unknown;
  modelRevision: string;
  /** Owner of the token object (its name is scoped by this tenant). */
  tenant: string;
  createdAt: number;
}

export const DEFAULT_ENCODER_CACHE = Object.freeze({ bucket: 'tessera-encoder-cache', ttlMs: 24 * 3_600_000, maxBytes: 1024 ** 3 });

function tenantToken(tenant: string): string {
  if (!tenant) throw invalidArgument('tessera-tenant', 'the encoder cache is scoped by tenant; the tenant is empty');
  return Buffer.from(tenant, 'utf8').toString('hex');
}

export class EncoderCache {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    readonly bucket: string,
    readonly ttlMs: number,
  ) {}

  static async open(nc: NatsConnection, options: EncoderCacheOptions = {}): Promise<EncoderCache> {
    const bucket = options.bucket ?? DEFAULT_ENCODER_CACHE.bucket;
    const ttlMs = options.ttlMs ?? DEFAULT_ENCODER_CACHE.ttlMs;
    const maxBytes = options.maxBytes ?? DEFAULT_ENCODER_CACHE.maxBytes;
    const js = nc.jetstream();
    // Index entries are ~0.5 KiB against ≥ 100 KiB of tokens each, so 1/64 of the cap is plenty.
    const kvBytes = Math.max(1024 * 1024, Math.floor(maxBytes / 64));
    const replicas = options.replicas ?? 1;
    const kv = await js.views.kv(bucket, { history: 1, ttl: ttlMs, max_bytes: kvBytes, replicas });
    await js.views.os(bucket, { ttl: nanos(ttlMs), max_bytes: maxBytes, replicas });
    const jsm = await nc.jetstreamManager();
    await applyStreamLimits(jsm, `KV_${bucket}`, { maxAgeNs: nanos(ttlMs), maxBytes: kvBytes, replicas: options.replicas });
    await applyStreamLimits(jsm, `OBJ_${bucket}`, { maxAgeNs: nanos(ttlMs), maxBytes: maxBytes, replicas: options.replicas });
    return new EncoderCache(nc, kv, jsm, bucket, ttlMs);
  }

  /** The KV key for a cache key tuple. */
  keyOf(k: EncoderCacheKey): string {
    const digest = sha256Hex(JSON.stringify([k.modelRevision, k.tenant, k.imageSha256.toLowerCase(), k.maxSliceNums, k.scaleResolution, ...(k.downsampleMode ? [k.downsampleMode] : [])]));
    return `${tenantToken(k.tenant)}.${digest}`;
  }

  /** The entry, or null on a miss (absent, expired, or its tokens were evicted by the size cap). */
  async lookup(k: EncoderCacheKey): Promise<EncoderCacheEntry | null> {
    const key = this.keyOf(k);
    const e = await this.kv.get(key);
    if (!e || e.operation !== 'PUT' || e.length === 0) return null;
    const entry = JSON.parse(new TextDecoder().decode(e.value)) as EncoderCacheEntry;
    // Exact TTL even between the server's expiry sweeps.
    if (Date.now() - entry.createdAt >= this.ttlMs) return null;
    const info = entry.tenant === k.tenant ? await statPayload(this.nc, entry.ref, { tenant: k.tenant }) : null;
    if (!info || info.size !== entry.ref.size || !(await this.complete(info))) {
      await this.kv.delete(key).catch(() => undefined);
      return null;
    }
    return entry;
  }

  /**
   * discard=old evicts an object's chunks (oldest first) before its metadata record, which is
   * written after them; in between, `info` still answers. Count the chunks left so a hit is never
   * handed out for tokens the decoder could not read.
   */
  private async complete(info: ObjectMeta): Promise<boolean> {
    if (info.chunks === 0) return true;
    const subject = `$O.${this.bucket}.C.${info.nuid}`;
    const si = await this.jsm.streams.info(`OBJ_${this.bucket}`, { subjects_filter: subject });
    const left = (si.state.subjects as Record<string, number> | undefined)?.[subject] ?? 0;
    return left === info.chunks;
  }

  /** The token bytes of an entry (null when evicted meanwhile). */
  async read(entry: EncoderCacheEntry): Promise<Uint8Array | null> {
    try {
      return await getPayload(this.nc, entry.ref, { tenant: entry.tenant });
    } catch {
      return null;
    }
  }

  async store(k: EncoderCacheKey, tokens: Uint8Array, meta: { dtype: string; shape: number[]; plan?: unknown }): Promise<EncoderCacheEntry> {
    tenantToken(k.tenant);
    const ref = await putPayload(this.nc, tokens, { bucket: this.bucket, tenant: k.tenant, ttlMs: this.ttlMs });
    const entry: EncoderCacheEntry = {
      ref: { bucket: ref.bucket, key: ref.key, size: ref.size },
      dtype: meta.dtype,
      shape: meta.shape,
      ...(meta.plan !== undefined && { plan: meta.plan }),
      modelRevision: k.modelRevision,
      tenant: k.tenant,
      createdAt: Date.now(),
    };
    await this.kv.put(this.keyOf(k), JSON.stringify(entry));
    return entry;
  }

  /** Deletes every entry and token blob of a tenant; returns the number of entries removed. */
  async purgeTenant(tenant: string): Promise<number> {
    const prefix = `${tenantToken(tenant)}.`;
    const keys: string[] = [];
    for await (const key of await this.kv.keys(`${prefix}>`)) keys.push(key);
    for (const key of keys) await this.kv.purge(key);
    await purgeTenantPayloads(this.nc, this.bucket, tenant);
    return keys.length;
  }
}
