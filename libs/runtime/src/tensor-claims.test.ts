import { describe, expect, it } from 'vitest';
import { commonV1, tensorFromArray, tensorToFloat32, TENSOR_CONTENT_TYPE } from '@tessera/contracts';
import { withNats } from '@tessera/testing/vitest';
import { TesseraError } from '@tessera/errors';
import { claimCheckTensor, resolveTensor, tensorAtRef } from './tensor-claims.js';

describe('tensors by reference (one helper for every stage)', () => {
  const nats = withNats();
  const values = Float32Array.from({ length: 300 }, (_, i) => i / 7);
  const tensor = tensorFromArray(values, [100, 3]);

  it('claim-checks a tensor over the threshold, tenant-scoped, and resolves it back bit-exactly', async () => {
    const opts = { bucket: 'tensor-claims-test', tenant: 'acme' };
    expect(await claimCheckTensor(nats.nc, tensor, 2000, opts)).toBe(tensor); // 1200 bytes: stays inline
    const ref = await claimCheckTensor(nats.nc, tensor, 1000, opts);
    expect(ref).toMatchObject({ dtype: commonV1.Dtype.FLOAT32, shape: [100, 3], data: { $case: 'ref', ref: { bucket: 'tensor-claims-test', size: 1200, contentType: TENSOR_CONTENT_TYPE } } });
    expect(tensorToFloat32(await resolveTensor(nats.nc, ref, opts))).toEqual(values);
    const e = TesseraError.from(await resolveTensor(nats.nc, ref, { ...opts, tenant: 'globex' }).catch((x: unknown) => x));
    expect(e.code).toBe('NOT_FOUND');
    // A reference without a bucket names the caller's claim bucket.
    const bare = tensorAtRef(ref, { bucket: '', key: (ref.data as { ref: { key: string } }).ref.key, size: 1200 });
    expect(tensorToFloat32(await resolveTensor(nats.nc, bare, opts))).toEqual(values);
  });
});
