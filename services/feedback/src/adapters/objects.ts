import type { NatsConnection } from 'nats';
import { deletePayload, getPayload } from '@tessera/runtime';
import type { ImageObjects } from '../domain/ports.js';

export type { ImageObjects };

/** Object store access by the reference's bucket, resolved in the record's tenant scope. */
export function natsObjects(nc: NatsConnection): ImageObjects {
  return {
    read: (ref, tenant) => getPayload(nc, { bucket: ref.bucket, key: ref.key, size: ref.size }, { tenant }),
    delete: (ref, tenant) => deletePayload(nc, ref, { tenant }).catch(() => false),
  };
}
