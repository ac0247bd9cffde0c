/**
 * The image store: every admitted image, once, as a tenant-scoped object named by its sha256
 * (bucket `tessera-images`). The gateway writes it at admission; the slicer reads it by reference;
 * feedback records the same reference, so exports can inline it; erasure deletes a tenant's images.
 *
 * Retention: an image must outlive every response that refers to it (the feedback retention, 90 days
 * by default). JetStream ages an object from its last write, so the bucket's max age is the
 * retention plus a tenth, and a put of an object older than that tenth rewrites it: any reference
 * recorded at time t stays readable until at least t + retention, while a popular image is rewritten
 * at most once per 9 days instead of on every request.
 */
import { nanos, type NatsConnection } from 'nats';
import { deletePayload, getPayload, purgeTenantPayloads, putPayload, type ObjectRef } from '@tessera/runtime';
import { applyStreamLimits } from './stream-limits.js';

export const DEFAULT_IMAGE_STORE = Object.freeze({ bucket: 'tessera-images', retentionMs: 90 * 86_400_000 });

export interface ImageStoreOptions {
  /** Object store bucket. Default `tessera-images`. */
  bucket?: string;
  /** How long an image stays readable after its last use. Default 90 days (the feedback retention). */
  retentionMs?: number;
  /** Size cap of the bucket in bytes (oldest images dropped first); default: none. */
  maxBytes?: number;
  /** JetStream replicas (TESSERA_JETSTREAM_REPLICAS; 3 on a 3-node cluster). Default 1. */
  replicas?: number;
}

/** A stored image: the reference every stage and feedback record carries. */
export interface StoredImage extends ObjectRef {
  contentType: string;
}

export class ImageStore {
  private constructor(
    private readonly nc: NatsConnection,
    readonly bucket: string,
    readonly retentionMs: number,
  ) {}

  /** Opens (creating or re-configuring) the bucket with the given retention and cap. */
  static async open(nc: NatsConnection, o: ImageStoreOptions = {}): Promise<ImageStore> {
    const bucket = o.bucket ?? DEFAULT_IMAGE_STORE.bucket;
    const retentionMs = o.retentionMs ?? DEFAULT_IMAGE_STORE.retentionMs;
    const maxAge = nanos(retentionMs + refreshAfter(retentionMs));
    await nc.jetstream().views.os(bucket, { ttl: maxAge, replicas: o.replicas ?? 1, ...(o.maxBytes && { max_bytes: o.maxBytes }) });
    await applyStreamLimits(await nc.jetstreamManager(), `OBJ_${bucket}`, { maxAgeNs: maxAge, maxBytes: o.maxBytes ?? -1, replicas: o.replicas });
    return new ImageStore(nc, bucket, retentionMs);
  }

  /** Stores the image for `tenant` (once: a re-put of a recent object is one meta lookup). */
  async put(tenant: string, bytes: Uint8Array, sha256: string, contentType: string): Promise<StoredImage> {
    const ref = await putPayload(this.nc, bytes, { bucket: this.bucket, tenant, sha256, refreshAfterMs: refreshAfter(this.retentionMs) });
    return { ...ref, contentType };
  }

  /** The image bytes; NOT_FOUND when erased, expired or another tenant's. */
  get(tenant: string, ref: ObjectRef): Promise<Uint8Array> {
    return getPayload(this.nc, { bucket: this.bucket, key: ref.key, size: ref.size }, { tenant, verify: false });
  }

  delete(tenant: string, sha256: string): Promise<boolean> {
    return deletePayload(this.nc, { bucket: this.bucket, key: sha256 }, { tenant });
  }

  /** Deletes every image of a tenant; returns how many. */
  purgeTenant(tenant: string): Promise<number> {
    return purgeTenantPayloads(this.nc, this.bucket, tenant);
  }
}

function refreshAfter(retentionMs: number): number {
  return Math.max(1000, Math.floor(retentionMs / 10));
}
