/**
 * The one implementation of `tessera.resampling.v1.ResamplerService`, bound to gRPC and to the
 * TESSERA_RESAMPLER work queue by main.ts.
 */
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from 'nats';
import { commonV1, float32ToFloat16, tensorFromArray, tensorProblem, tensorToFloat32, type resamplingV1 } from '@tessera/contracts';
import { getPayload, invalidArgument, putPayload, TesseraError, type CallContext, type ClaimCheckOptions, type ServiceImpl } from '@tessera/runtime';
import type { ResampleBatcher, SliceInput } from './resample-batcher.js';

export interface ResamplerServiceDeps {
  batcher: ResampleBatcher;
  modelRevision: string;
  visionHidden: number;
  maxSlices: number;
  maxPatchesPerSlice: number;
  outputDtype: 'float32' | 'float16';
  nc: NatsConnection | undefined;
  claim: ClaimCheckOptions;
  tensorRefThreshold: number;
}

export type ResamplerImpl = ServiceImpl<typeof resamplingV1.ResamplerServiceService>;

export function createResamplerService(d: ResamplerServiceDeps): ResamplerImpl {
  async function readSlice(p: commonV1.PatchFeatures, i: number): Promise<SliceInput> {
    const field = `slices[${i}]`;
    const rows = p.patchRows;
    const cols = p.patchCols;
    if (!(rows > 0 && cols > 0)) throw invalidArgument(`${field}.patch_rows`, `${field}: patch_rows and patch_cols must be >= 1, got ${rows}×${cols}`, 'patch_rows, patch_cols >= 1');
    if (rows * cols > d.maxPatchesPerSlice) {
      throw invalidArgument(`${field}.patch_rows`, `${field}: ${rows}×${cols} = ${rows * cols} patches is over the limit of ${d.maxPatchesPerSlice}`, `patch_rows * patch_cols <= ${d.maxPatchesPerSlice}`);
    }
    let t = p.features;
    const problem = tensorProblem(t, `${field}.features`, [rows * cols, d.visionHidden]);
    if (problem) throw new TesseraError('INVALID_ARGUMENT', problem.message, { field: problem.field, limit: problem.limit });
    if (t!.dtype !== commonV1.Dtype.FLOAT32 && t!.dtype !== commonV1.Dtype.FLOAT16 && t!.dtype !== commonV1.Dtype.BFLOAT16) {
      throw invalidArgument(`${field}.features.dtype`, `${field}.features: dtype must be FLOAT32, FLOAT16 or BFLOAT16`, 'dtype in FLOAT32|FLOAT16|BFLOAT16');
    }
    if (t!.data?.$case === 'ref') {
      if (!d.nc) throw new TesseraError('FAILED_PRECONDITION', `${field}.features.ref needs the object store, and this resampler runs without NATS`, { field: `${field}.features.ref` });
      const r = t!.data.ref;
      const bytes = await getPayload(d.nc, { bucket: r.bucket || d.claim.bucket || 'tessera-payloads', key: r.key, size: r.size }, d.claim);
      t = { ...t!, data: { $case: 'raw', raw: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) } };
    }
    return { tgtSize: [rows, cols], features: tensorToFloat32(t!) };
  }

  return {
    async resample(req: resamplingV1.ResampleRequest, ctx: CallContext): Promise<resamplingV1.ResampleResponse> {
      const t0 = performance.now();
      if (req.modelRevision && req.modelRevision !== d.modelRevision) {
        throw new TesseraError('FAILED_PRECONDITION', `model_revision ${req.modelRevision} is not the loaded resampler (${d.modelRevision})`, { field: 'model_revision', limit: `model_revision = ${d.modelRevision}` });
      }
      const n = req.slices.length;
      if (n < 1 || n > d.maxSlices) throw invalidArgument('slices', `slices must hold 1..${d.maxSlices} entries, got ${n}`, `1 <= slices <= ${d.maxSlices}`);
      const inputs = await Promise.all(req.slices.map(readSlice));
      ctx.throwIfAborted();
      const t1 = performance.now();
      const tokens = await d.batcher.resample(inputs, ctx.signal);
      const t2 = performance.now();
      const shape = [n, d.batcher.model.queryNum, d.batcher.model.embedDim];
      let tensor = d.outputDtype === 'float16' ? tensorFromArray(float32ToFloat16(tokens), shape, commonV1.Dtype.FLOAT16) : tensorFromArray(tokens, shape);
      if (d.nc && tensor.data?.$case === 'raw' && tensor.data.raw.byteLength > d.tensorRefThreshold) {
        const ref = await putPayload(d.nc, tensor.data.raw, d.claim);
        tensor = { ...tensor, data: { $case: 'ref', ref: { bucket: ref.bucket, key: ref.key, size: ref.size, contentType: 'application/x-tessera-tensor' } } };
      }
      return { visualTokens: tensor, modelRevision: d.modelRevision, timings: { resampleMs: t2 - t1, totalMs: performance.now() - t0 } };
    },
  };
}
