import type { NatsConnection, ObjectStore } from 'nats';
import type { ObjectRef } from './domain/types.js';

/** Object store access by bucket (claim-check buckets), for erasure and inline image exports. */
export function natsObjects(nc: NatsConnection): { read(ref: ObjectRef): Promise<Uint8Array>; delete(ref: ObjectRef): Promise<boolean> } {
  const buckets = new Map<string, Promise<ObjectStore>>();
  const bucket = (name: string) => {
    let b = buckets.get(name);
    if (!b) buckets.set(name, (b = nc.jetstream().views.os(name)));
    return b;
  };
  return {
    async read(ref) {
      const data = await (await bucket(ref.bucket)).getBlob(ref.key);
      if (!data) throw new Error(`image ${ref.bucket}/${ref.key} is not in the object store`);
      return data;
    },
    async delete(ref) {
      try {
        const r = await (await bucket(ref.bucket)).delete(ref.key);
        return r.purged > 0;
      } catch {
        return false;
      }
    },
  };
}
