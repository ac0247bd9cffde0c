/**
 * Claim checks: payloads above a threshold (default 512 KiB; NATS max_payload is 1 MiB) travel
 * through the JetStream Object Store and the message carries only an ObjectRef.
 * Keys are the payload's sha256, so the same tensor/image is stored once and re-puts are free.
 */
import { createHash } from 'node:crypto';
import { nanos, type NatsConnection, type ObjectStore } from 'nats';
import { ErrorCode, TesseraError } from './errors.js';

export interface ObjectRef {
  readonly bucket: string;
  /** sha256 of the payload, lower-case hex. */
  readonly key: string;
  readonly size: number;
}

export interface ClaimCheckOptions {
  /** Object store bucket (created on first use). Default `tessera-payloads`. */
  bucket?: string;
  /** How long objects live; the bucket's max age. Default 1 h. */
  ttlMs?: number;
}

export const DEFAULT_BUCKET = 'tessera-payloads';
export const DEFAULT_CLAIM_THRESHOLD = 512 * 1024;
const DEFAULT_TTL_MS = 3_600_000;

const stores = new WeakMap<NatsConnection, Map<string, Promise<ObjectStore>>>();

function store(nc: NatsConnection, bucket: string, ttlMs: number): Promise<ObjectStore> {
  let byBucket = stores.get(nc);
  if (!byBucket) stores.set(nc, (byBucket = new Map()));
  let s = byBucket.get(bucket);
  if (!s) {
    s = nc.jetstream().views.os(bucket, { ttl: nanos(ttlMs) });
    byBucket.set(bucket, s);
    s.catch(() => byBucket!.delete(bucket));
  }
  return s;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Stores `bytes` (if not already there) and returns its reference. */
export async function putPayload(nc: NatsConnection, bytes: Uint8Array, opts: ClaimCheckOptions = {}): Promise<ObjectRef> {
  const bucket = opts.bucket ?? DEFAULT_BUCKET;
  const key = sha256Hex(bytes);
  try {
    const os = await store(nc, bucket, opts.ttlMs ?? DEFAULT_TTL_MS);
    const info = await os.info(key);
    if (!info || info.deleted || info.size !== bytes.length) await os.putBlob({ name: key }, bytes);
  } catch (err) {
    throw new TesseraError(ErrorCode.UNAVAILABLE, `object store put failed for bucket ${bucket} (${bytes.length} bytes)`, { field: 'payload', bucket }, { cause: err });
  }
  return { bucket, key, size: bytes.length };
}

/** Reads the payload an ObjectRef points to; NOT_FOUND when it expired or never existed. */
export async function getPayload(nc: NatsConnection, ref: ObjectRef, opts: ClaimCheckOptions = {}): Promise<Uint8Array> {
  let data: Uint8Array | null;
  try {
    const os = await store(nc, ref.bucket, opts.ttlMs ?? DEFAULT_TTL_MS);
    data = await os.getBlob(ref.key);
  } catch (err) {
    throw new TesseraError(ErrorCode.UNAVAILABLE, `object store get failed for ${ref.bucket}/${ref.key}`, { field: 'claim' }, { cause: err });
  }
  if (!data) throw new TesseraError(ErrorCode.NOT_FOUND, `claim-check object ${ref.bucket}/${ref.key} not found (expired after the bucket TTL or never stored)`, { field: 'claim.key' });
  if (data.length !== ref.size) {
    throw new TesseraError(ErrorCode.INTERNAL, `claim-check object ${ref.key} has ${data.length} bytes, reference says ${ref.size}`, { field: 'claim.size' });
  }
  return data;
}

export function parseObjectRef(text: string): ObjectRef {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  const r = v as Partial<ObjectRef> | undefined;
  if (!r || typeof r.bucket !== 'string' || typeof r.key !== 'string' || !/^[0-9a-f]{64}$/.test(r.key) || typeof r.size !== 'number') {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'tessera-claim header is not an ObjectRef {bucket, key: sha256 hex, size}', { field: 'tessera-claim' });
  }
  return { bucket: r.bucket, key: r.key, size: r.size };
}
