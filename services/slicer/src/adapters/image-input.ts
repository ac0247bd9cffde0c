/**
 * Resolves `ImageInput` to bytes: inline bytes are hashed (and checked against a given sha256); a
 * reference into the image store is read with the caller's tenant (another tenant's reference is
 * NOT_FOUND) and trusted by its sha256 — the gateway hashed the image once at admission and the
 * object is named by that hash, so the slicer does not pass over the bytes a second time.
 */
import type { NatsConnection } from 'nats';
import type { visionV1 } from '@tessera/contracts';
import { getPayload, invalidArgument, resourceExhausted, sha256Hex, TesseraError, type ClaimCheckOptions } from '@tessera/runtime';

export interface ResolvedImage {
  bytes: Uint8Array;
  sha256: string;
}

const SHA_RE = /^[0-9a-f]{64}$/;

export async function resolveImage(
  input: visionV1.ImageInput | undefined,
  o: { nc: NatsConnection | undefined; maxBytes: number; claim: ClaimCheckOptions; tenant: string },
): Promise<ResolvedImage> {
  const src = input?.source;
  if (!input || !src) throw invalidArgument('image', 'image is required (image.data or image.ref)');
  const given = input.sha256.toLowerCase();
  if (given && !SHA_RE.test(given)) throw invalidArgument('image.sha256', 'image.sha256 must be 64 lowercase hex characters', 'sha256 = 64 hex chars');
  let bytes: Uint8Array;
  if (src.$case === 'data') {
    bytes = src.data;
  } else {
    if (!given) throw invalidArgument('image.sha256', 'image.sha256 is required with image.ref');
    if (src.ref.size > o.maxBytes) {
      throw resourceExhausted('image.ref.size', `image is ${src.ref.size} bytes, over the limit of ${o.maxBytes} bytes`, `image bytes <= ${o.maxBytes}`);
    }
    if (!o.nc) throw new TesseraError('FAILED_PRECONDITION', 'image.ref needs the object store, and this slicer runs without NATS', { field: 'image.ref' });
    if (src.ref.key !== given) throw invalidArgument('image.ref.key', `image.ref.key ${src.ref.key} is not image.sha256 ${given}: image references are named by their content hash`);
    bytes = await getPayload(o.nc, { bucket: src.ref.bucket || 'tessera-images', key: src.ref.key, size: src.ref.size }, { tenant: o.tenant, verify: false });
    if (bytes.length > o.maxBytes) {
      throw resourceExhausted('image.ref.size', `image is ${bytes.length} bytes, over the limit of ${o.maxBytes} bytes`, `image bytes <= ${o.maxBytes}`);
    }
    return { bytes, sha256: given };
  }
  if (bytes.length > o.maxBytes) {
    throw resourceExhausted('image.data', `image is ${bytes.length} bytes, over the limit of ${o.maxBytes} bytes`, `image bytes <= ${o.maxBytes}`);
  }
  const sha256 = sha256Hex(bytes);
  if (given && given !== sha256) throw invalidArgument('image.sha256', `image.sha256 ${given} does not match the bytes (${sha256})`);
  return { bytes, sha256 };
}
