/**
 * Stored Responses in a JetStream KV bucket (default `tessera-responses`): key
 * `<hex(tenant)>.<response id>`, value the record's JSON. History 1 (a response is written once),
 * max age = the TTL (TESSERA_GATEWAY_RESPONSES_TTL), the value size capped at the record limit,
 * replicas as every other bucket (TESSERA_JETSTREAM_REPLICAS). No S2 compression: it needs nats-server 2.10 and the
 * test server (and some deployments) are older.
 * The gateway's own connection's JetStream, so an edge site's gateway stores in its site domain and
 * keeps serving stored responses with the uplink down. Hex keeps one tenant's key prefix from
 * matching another's (as the encoder cache and the claim checks).
 */
import { nanos, type KV, type NatsConnection } from 'nats';
import { tenantPrefix } from '@tessera/runtime';
import { applyStreamLimits } from '@tessera/vision';
import type { ResponseStore, StoredResponse } from '../../domain/responses/response-store.js';

export interface KvResponseStoreOptions {
  bucket: string;
  ttlMs: number;
  /** Largest record (the record limit); the bucket's value limit adds ENTRY_HEADROOM for the tenant field. */
  maxValueBytes: number;
  replicas?: number;
}

/** The entry adds `"tenant": "<id>"` to the record the limit was checked on. */
const ENTRY_HEADROOM = 1024;

interface Entry extends StoredResponse {
  tenant: string;
}

export class KvResponseStore implements ResponseStore {
  private constructor(private readonly kv: KV) {}

  /** Opens (creating or re-configuring) the bucket. */
  static async open(nc: NatsConnection, o: KvResponseStoreOptions): Promise<KvResponseStore> {
    const kv = await nc.jetstream().views.kv(o.bucket, { history: 1, ttl: o.ttlMs, maxValueSize: o.maxValueBytes + ENTRY_HEADROOM, replicas: o.replicas ?? 1 });
    await applyStreamLimits(await nc.jetstreamManager(), `KV_${o.bucket}`, { maxAgeNs: nanos(o.ttlMs), maxBytes: -1, replicas: o.replicas });
    return new KvResponseStore(kv);
  }

  async put(tenant: string, id: string, record: StoredResponse): Promise<void> {
    await this.kv.put(key(tenant, id), JSON.stringify({ ...record, tenant } satisfies Entry));
  }

  async get(tenant: string, id: string): Promise<StoredResponse | undefined> {
    const e = await this.kv.get(key(tenant, id));
    if (!e || e.operation !== 'PUT' || e.length === 0) return undefined;
    const { tenant: owner, ...record } = e.json<Entry>();
    return owner === tenant ? record : undefined;
  }

  async delete(tenant: string, id: string): Promise<boolean> {
    const k = key(tenant, id);
    const e = await this.kv.get(k);
    if (!e || e.operation !== 'PUT') return false;
    // Purge, not delete: nothing of the response stays behind (a delete marker would keep the key until max age).
    await this.kv.purge(k);
    return true;
  }

  async purgeTenant(tenant: string): Promise<number> {
    const keys: string[] = [];
    for await (const k of await this.kv.keys(`${tenantPrefix(tenant)}>`)) keys.push(k);
    for (const k of keys) await this.kv.purge(k);
    return keys.length;
  }
}

/**
 * `<hex(tenant)>.<id>`: the platform's tenant prefix (claim checks, image store). Response ids are checked before
 * they get here (stored-responses.ts: `resp_` + letters and digits), so they are valid key tokens.
 */
function key(tenant: string, id: string): string {
  return `${tenantPrefix(tenant)}${id}`;
}
