/**
 * Tensors by reference: the one place a `tessera.common.v1.Tensor` is turned into an ObjectRef to the
 * object store and back (it had been written in the gateway, slicer, resampler and decoder). A tensor
 * reference is tenant-scoped like every claim check: only the writer's tenant resolves it.
 */
import type { NatsConnection } from 'nats';
import { commonV1, TENSOR_CONTENT_TYPE } from '@tessera/contracts';
import { DEFAULT_BUCKET, getPayload, putPayload, type GetOptions, type PutOptions } from './claim-check.js';

/** `t`'s dtype and shape with its data at `ref` (the tensor content type set). */
export function tensorAtRef(t: Pick<commonV1.Tensor, 'dtype' | 'shape'>, ref: { bucket: string; key: string; size: number }): commonV1.Tensor {
  return { dtype: t.dtype, shape: t.shape, data: { $case: 'ref', ref: { bucket: ref.bucket, key: ref.key, size: ref.size, contentType: TENSOR_CONTENT_TYPE } } };
}

/** A raw tensor over `thresholdBytes` goes to the object store (claim check); others come back as they are. */
export async function claimCheckTensor(nc: NatsConnection, t: commonV1.Tensor, thresholdBytes: number, opts: PutOptions & { tenant: string }): Promise<commonV1.Tensor> {
  if (t.data?.$case !== 'raw' || t.data.raw.byteLength <= thresholdBytes) return t;
  return tensorAtRef(t, await putPayload(nc, t.data.raw, opts));
}

/**
 * A tensor whose data is an ObjectRef read back as raw bytes (NOT_FOUND when it expired or is another
 * tenant's); a raw tensor comes back as it is. A reference without a bucket names `opts.bucket`.
 */
export async function resolveTensor(nc: NatsConnection, t: commonV1.Tensor, opts: GetOptions & { tenant: string }): Promise<commonV1.Tensor> {
  if (t.data?.$case !== 'ref') return t;
  const r = t.data.ref;
  const bytes = await getPayload(nc, { bucket: r.bucket || opts.bucket || DEFAULT_BUCKET, key: r.key, size: r.size }, opts);
  return { ...t, data: { $case: 'raw', raw: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) } };
}
