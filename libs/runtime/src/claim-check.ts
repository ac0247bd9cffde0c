/**
 * Claim checks: payloads above a threshold (default 512 KiB; NATS max_payload is 1 MiB) travel
 * through the JetStream Object Store and the message carries only an ObjectRef.
 * Keys are the payload's sha256, so the same tensor/image is stored once and re-puts are free.
 *
 * Tenant scope: with `tenant` set, the object is named `<hex(tenant)>.<sha256>` while the ObjectRef
 * still carries the bare sha256. A reader resolves the name with the caller's tenant (from the bus
 * header), so a reference copied from another tenant names an object that does not exist for it:
 * NOT_FOUND, never another tenant's bytes. Hex keeps one tenant's prefix from matching another's.
 */
import { createHash } from 'node:crypto';
import { headers as natsHeaders, nanos, nuid, type NatsConnection, type ObjectStore } from 'nats';
import { ErrorCode, TesseraError } from '@tessera/errors';

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
  /** Scope the object to this tenant (see the file comment). Unset = shared, named by sha256 alone. */
  tenant?: string;
  /** A streamed read with no chunk for this long falls back to reading chunk by chunk. Default 2 s. */
  stallMs?: number;
  /** JetStream replicas of the bucket when this process creates it. Default 1. */
  replicas?: number;
  /**
   * Write into the object store of this JetStream domain instead of the connection's own: an edge
   * site puts a hub model's large request into the hub's store (through `$JS.<domain>.API`; the
   * chunk subjects `$O.<bucket>.>` reach the hub's stream over the leaf link), so the hub reads it
   * as a local claim check. Used by puts; readers read their own domain.
   */
  jsDomain?: string;
}

/** The object name of `key` (a sha256) in a tenant's scope. */
export function objectName(key: string, tenant?: string): string {
  return tenant === undefined ? key : `${tenantPrefix(tenant)}${key}`;
}

/** Every object name of a tenant starts with this. */
export function tenantPrefix(tenant: string): string {
  if (!tenant) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'tenant-scoped objects need a tenant; the tenant is empty', { field: 'tessera-tenant' });
  return `${Buffer.from(tenant, 'utf8').toString('hex')}.`;
}

export const DEFAULT_BUCKET = 'tessera-payloads';
export const DEFAULT_CLAIM_THRESHOLD = 512 * 1024;
const DEFAULT_TTL_MS = 3_600_000;
const DEFAULT_STALL_MS = 2_000;

const stores = new WeakMap<NatsConnection, Map<string, Promise<ObjectStore>>>();

const inDomain = (domain?: string) => (domain ? { domain } : {});

function store(nc: NatsConnection, bucket: string, ttlMs: number, replicas = 1, domain?: string): Promise<ObjectStore> {
  let byBucket = stores.get(nc);
  if (!byBucket) stores.set(nc, (byBucket = new Map()));
  const id = domain ? `${domain}/${bucket}` : bucket;
  let s = byBucket.get(id);
  if (!s) {
    s = nc.jetstream(inDomain(domain)).views.os(bucket, { ttl: nanos(ttlMs), replicas });
    byBucket.set(id, s);
    s.catch(() => byBucket!.delete(id));
  }
  return s;
}

// The platform's one sha256 hex helper (object names, cache keys), re-exported for transport code.
export { sha256Hex } from '@tessera/errors';

/**
 * Objects are written and read in the JetStream Object Store layout (stream `OBJ_<bucket>`, chunks
 * on `$O.<bucket>.C.<nuid>`, meta on `$O.<bucket>.M.<base64url(name)>` with a `SHA-256=` digest), so
 * any NATS object-store client can read them. The bytes are moved here rather than through
 * `ObjectStore.putBlob/getBlob` because those hash with a pure-JS SHA-256 (14 MiB/s measured on this
 * machine vs 347 MiB/s for node:crypto), which capped claim checks at ~10 MiB/s.
 */
const CHUNK_BYTES = 256 * 1024;

const b64urlPadded = (b: Uint8Array | string) => Buffer.from(b).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');

/** The object-store meta record of one object. */
export interface ObjectMeta {
  name: string;
  bucket: string;
  nuid: string;
  size: number;
  chunks: number;
  digest: string;
  /** ISO time of the last write (a refresh rewrites it). */
  mtime?: string;
  deleted?: boolean;
}

async function readMeta(nc: NatsConnection, bucket: string, key: string, domain?: string): Promise<ObjectMeta | null> {
  const jsm = await nc.jetstreamManager(inDomain(domain));
  try {
    const m = await jsm.streams.getMessage(`OBJ_${bucket}`, { last_by_subj: `$O.${bucket}.M.${b64urlPadded(key)}` });
    return JSON.parse(Buffer.from(m.data).toString('utf8')) as ObjectMeta;
  } catch (err) {
    if ((err as { code?: string }).code === '404' || /no message found|stream not found/i.test(String(err))) return null;
    throw err;
  }
}

export interface PutOptions extends ClaimCheckOptions {
  /** The bytes' sha256 (hex) when the caller already computed it: one hash per payload, not two. */
  sha256?: string;
  /**
   * Rewrite an existing object older than this (ms), so its max-age clock restarts: a store that
   * promises "kept for N days after the last use" sets the bucket TTL to N + this and refreshes.
   * Default: never (an existing object is reused as is).
   */
  refreshAfterMs?: number;
}

/** Stores `bytes` (if not already there) and returns its reference. */
export async function putPayload(nc: NatsConnection, bytes: Uint8Array, opts: PutOptions = {}): Promise<ObjectRef> {
  const bucket = opts.bucket ?? DEFAULT_BUCKET;
  const hash = opts.sha256 ? Buffer.from(opts.sha256, 'hex') : createHash('sha256').update(bytes).digest();
  const key = hash.toString('hex');
  const name = objectName(key, opts.tenant);
  try {
    await store(nc, bucket, opts.ttlMs ?? DEFAULT_TTL_MS, opts.replicas, opts.jsDomain); // creates the bucket's stream once
    const old = await readMeta(nc, bucket, name, opts.jsDomain);
    const fresh = opts.refreshAfterMs === undefined || (old?.mtime !== undefined && Date.now() - Date.parse(old.mtime) < opts.refreshAfterMs);
    if (old && !old.deleted && old.size === bytes.length && fresh) return { bucket, key, size: bytes.length };
    const js = nc.jetstream(inDomain(opts.jsDomain));
    const id = nuid.next();
    const chunkSubject = `$O.${bucket}.C.${id}`;
    const acks: Promise<unknown>[] = [];
    let chunks = 0;
    for (let off = 0; off < bytes.length; off += CHUNK_BYTES) {
      acks.push(js.publish(chunkSubject, bytes.subarray(off, Math.min(off + CHUNK_BYTES, bytes.length))));
      chunks++;
    }
    await Promise.all(acks);
    const meta = {
      name,
      bucket,
      nuid: id,
      size: bytes.length,
      chunks,
      mtime: new Date().toISOString(),
      digest: `SHA-256=${b64urlPadded(hash)}`,
      deleted: false,
      options: { max_chunk_size: CHUNK_BYTES },
    };
    const h = natsHeaders();
    h.set('Nats-Rollup', 'sub');
    await js.publish(`$O.${bucket}.M.${b64urlPadded(name)}`, JSON.stringify(meta), { headers: h });
    // A refreshed object's previous chunks are garbage now; they would otherwise live out their TTL.
    if (old && !old.deleted && old.nuid !== id) await purgeChunks(nc, bucket, old.nuid, opts.jsDomain);
  } catch (err) {
    throw new TesseraError(ErrorCode.UNAVAILABLE, `object store put failed for bucket ${bucket} (${bytes.length} bytes): ${err instanceof Error ? err.message : String(err)}`, { field: 'payload', bucket }, { cause: err });
  }
  return { bucket, key, size: bytes.length };
}

async function purgeChunks(nc: NatsConnection, bucket: string, id: string, domain?: string): Promise<void> {
  const jsm = await nc.jetstreamManager(inDomain(domain));
  await jsm.streams.purge(`OBJ_${bucket}`, { filter: `$O.${bucket}.C.${id}` });
}

/** The meta record of the object a reference names (null when absent or deleted). */
export async function statPayload(nc: NatsConnection, ref: Pick<ObjectRef, 'bucket' | 'key'>, opts: Pick<ClaimCheckOptions, 'tenant'> = {}): Promise<ObjectMeta | null> {
  const meta = await readMeta(nc, ref.bucket, objectName(ref.key, opts.tenant));
  return meta && !meta.deleted ? meta : null;
}

/** Deletes the object a reference names; false when there was none. */
export async function deletePayload(nc: NatsConnection, ref: Pick<ObjectRef, 'bucket' | 'key'>, opts: Pick<ClaimCheckOptions, 'tenant'> = {}): Promise<boolean> {
  const name = objectName(ref.key, opts.tenant);
  const meta = await readMeta(nc, ref.bucket, name);
  if (!meta || meta.deleted) return false;
  const h = natsHeaders();
  h.set('Nats-Rollup', 'sub');
  await nc.jetstream().publish(`$O.${ref.bucket}.M.${b64urlPadded(name)}`, JSON.stringify({ ...meta, deleted: true, size: 0, chunks: 0, digest: '' }), { headers: h });
  await purgeChunks(nc, ref.bucket, meta.nuid);
  return true;
}

/** Deletes every object of a tenant in a bucket; returns how many. A missing bucket holds none. */
export async function purgeTenantPayloads(nc: NatsConnection, bucket: string, tenant: string): Promise<number> {
  const prefix = tenantPrefix(tenant);
  const jsm = await nc.jetstreamManager();
  try {
    await jsm.streams.info(`OBJ_${bucket}`);
  } catch (err) {
    if ((err as { code?: string }).code === '404' || /not found/i.test(String(err))) return 0;
    throw err;
  }
  const os = await nc.jetstream().views.os(bucket);
  let n = 0;
  for (const obj of await os.list()) {
    if (!obj.name.startsWith(prefix)) continue;
    await os.delete(obj.name);
    n++;
  }
  return n;
}

export interface GetOptions extends ClaimCheckOptions {
  /**
   * Re-hash the bytes against the stored digest (default true). A reader that trusts the writer's
   * hash (the object is named by it, JetStream checksums its storage) skips a second pass over
   * every byte: the gateway hashes an image once, the slicer does not hash it again.
   */
  verify?: boolean;
}

/**
 * Reads the payload an ObjectRef points to; NOT_FOUND when it expired, never existed, or belongs
 * to another tenant's scope. Never creates the bucket (a reader must not fix its TTL).
 */
export async function getPayload(nc: NatsConnection, ref: ObjectRef, opts: GetOptions = {}): Promise<Uint8Array> {
  let meta: ObjectMeta | null;
  try {
    meta = await readMeta(nc, ref.bucket, objectName(ref.key, opts.tenant));
  } catch (err) {
    throw new TesseraError(ErrorCode.UNAVAILABLE, `object store get failed for ${ref.bucket}/${ref.key}`, { field: 'claim' }, { cause: err });
  }
  if (!meta || meta.deleted) throw new TesseraError(ErrorCode.NOT_FOUND, `claim-check object ${ref.bucket}/${ref.key} not found (expired after the bucket TTL or never stored)`, { field: 'claim.key' });
  if (meta.size !== ref.size) {
    throw new TesseraError(ErrorCode.INTERNAL, `claim-check object ${ref.key} has ${meta.size} bytes, reference says ${ref.size}`, { field: 'claim.size' });
  }
  const out = Buffer.allocUnsafe(meta.size);
  if (meta.size > 0) {
    try {
      const off = await readChunksStreaming(nc, ref.bucket, meta, out, opts.stallMs ?? DEFAULT_STALL_MS);
      if (off !== meta.size) await readChunksByGet(nc, ref.bucket, meta, out);
    } catch (err) {
      throw new TesseraError(ErrorCode.UNAVAILABLE, `object store get failed for ${ref.bucket}/${ref.key}`, { field: 'claim' }, { cause: err });
    }
  }
  if (opts.verify !== false && `SHA-256=${b64urlPadded(createHash('sha256').update(out).digest())}` !== meta.digest) {
    throw new TesseraError(ErrorCode.INTERNAL, `claim-check object ${ref.bucket}/${ref.key} is corrupt: sha256 does not match`, { field: 'claim.key' });
  }
  return out;
}

/**
 * Chunks through an ordered consumer: one pull for the whole object, the fast path (~200 ms for
 * 3.6 MB here). Returns the bytes read; fewer than `meta.size` when it stalled. The client library
 * recovers a stuck ordered consumer only by its heartbeat/backoff clock (30 s by default: the
 * ~32 s first-large-image stall of issue 20 had that shape), so a read that makes no progress for
 * `stallMs` is abandoned here and finished by `readChunksByGet`.
 */
async function readChunksStreaming(nc: NatsConnection, bucket: string, meta: ObjectMeta, out: Buffer, stallMs: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), stallMs)));
  // expires bounds the library's own reset backoff (it waits `expires` between consumer re-creations).
  const opening = nc
    .jetstream()
    .consumers.get(`OBJ_${bucket}`, { filterSubjects: `$O.${bucket}.C.${meta.nuid}` })
    .then((consumer) => consumer.consume({ max_messages: 64, expires: 5_000 }));
  const messages = await Promise.race([opening, stalled]);
  if (!messages) {
    opening.then((m) => m.close()).catch(() => {});
    return 0;
  }
  let off = 0;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void messages.close().catch(() => {}), stallMs);
  };
  arm();
  try {
    for await (const m of messages) {
      if (off + m.data.length > meta.size) throw new Error(`object ${meta.name} has more than ${meta.size} bytes of chunks`);
      out.set(m.data, off);
      off += m.data.length;
      if (m.info.pending === 0 || off >= meta.size) break;
      arm();
    }
  } finally {
    clearTimeout(timer);
    await messages.close().catch(() => {});
  }
  return off;
}

/** Chunks one request each (`next_by_subj`, server 2.9+): slower, but nothing to get stuck. */
async function readChunksByGet(nc: NatsConnection, bucket: string, meta: ObjectMeta, out: Buffer): Promise<void> {
  const jsm = await nc.jetstreamManager();
  let seq = 0;
  let off = 0;
  while (off < meta.size) {
    const m = await jsm.streams.getMessage(`OBJ_${bucket}`, { next_by_subj: `$O.${bucket}.C.${meta.nuid}`, seq: seq + 1 } as unknown as { seq: number });
    if (off + m.data.length > meta.size) throw new Error(`object ${meta.name} has more than ${meta.size} bytes of chunks`);
    out.set(m.data, off);
    off += m.data.length;
    seq = m.seq;
  }
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
