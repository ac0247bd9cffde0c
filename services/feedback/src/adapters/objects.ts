import type { NatsConnection } from 'nats';
import { deletePayload, getPayload } from '@tessera/runtime';
import type { ObjectRef } from '../domain/types.js';

/** Image bytes of a tenant's records: the image store's tenant-scoped objects (the gateway wrote them). */
export interface ImageObjects {
  /** The bytes; NOT_FOUND when erased, expired or not this tenant's. */
  read(ref: ObjectRef, tenant: string): Promise<Uint8Array>;
  delete(ref: ObjectRef, tenant: string): Promise<boolean>;
}

/** Object store access by the reference's bucket, resolved in the record's tenant scope. */
export function natsObjects(nc: NatsConnection): ImageObjects {
  return {
    read: (ref, tenant) => getPayload(nc, { bucket: ref.bucket, key: ref.key, size: ref.size }, { tenant }),
    delete: (ref, tenant) => deletePayload(nc, ref, { tenant }).catch(() => false),
  };
}
