import { createHash } from 'node:crypto';

/**
 * The platform's one sha256 hex helper: content addresses (images, tensors, ObjectRef keys), cache
 * keys, API key hashes. It lives in this leaf, not in the runtime, because the vision preprocessing
 * workers hash images and loading `@tessera/runtime` costs a worker ~0.7 s against ~16 ms for this
 * package. Strings hash as UTF-8.
 */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
