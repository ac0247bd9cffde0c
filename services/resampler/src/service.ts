/**
 * The one implementation of `tessera.resampling.v1.ResamplerService`, bound to gRPC and to the
 * TESSERA_RESAMPLER work queue by main.ts.
 */
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from 'nats';
import { commonV1, float32ToFloat16, tensorFromArray, tensorProblem, tensorToFloat32, type resamplingV1 } from '@tessera/contracts';
import { claimCheckTensor, invalidArgument, resolveTensor, tensorAtRef, TesseraError, type CallContext, type ClaimCheckOptions, type ServiceImpl } from '@tessera/runtime';
import { checkModelRevision } from '@tessera/errors';
import type { EncoderCache } from '@tessera/vision';
import type { ResampleBatcher, SliceInput } from './domain/resample-batcher.js';

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
  /** Where `ResampleRequest.cache` writes the tokens; undefined = such requests are refused. */
  cache?: EncoderCache;
}

const SHA256 = /^[0-9a-f]{64}$/;

export type ResamplerImpl = ServiceImpl<typeof resamplingV1.ResamplerServiceService>;

export function createResamplerService(d: ResamplerServiceDeps): ResamplerImpl {
  async function readSlice(p: commonV1.PatchFeatures, i: number, tenant: string): Promise<SliceInput> {
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
      // Features are tenant-scoped claim checks (the slicer wrote them with the caller's tenant).
      t = await resolveTensor(d.nc, t!, { ...d.claim, tenant });
    }
    return { tgtSize: [rows, cols], features: tensorToFloat32(t!) };
  }

  return {
    async resample(req: resamplingV1.ResampleRequest, ctx: CallContext): Promise<resamplingV1.ResampleResponse> {
      const t0 = performance.now();
      checkModelRevision(req.modelRevision, d.modelRevision, 'resampler');
      const n = req.slices.length;
      if (n < 1 || n > d.maxSlices) throw invalidArgument('slices', `slices must hold 1..${d.maxSlices} entries, got ${n}`, `1 <= slices <= ${d.maxSlices}`);
      if (req.cache) {
        if (!SHA256.test(req.imageSha256)) throw invalidArgument('image_sha256', 'image_sha256 (64 lowercase hex characters) is required with cache', 'sha256 = 64 hex chars');
        if (!d.cache) throw new TesseraError('FAILED_PRECONDITION', 'cache is set but this resampler has no encoder cache (it runs without NATS)', { field: 'cache' });
      }
      const inputs = await Promise.all(req.slices.map((p, i) => readSlice(p, i, ctx.tenant)));
      ctx.throwIfAborted();
      const t1 = performance.now();
      const tokens = await d.batcher.resample(inputs, ctx.signal);
      const t2 = performance.now();
      const shape = [n, d.batcher.model.queryNum, d.batcher.model.embedDim];
      let tensor = d.outputDtype === 'float16' ? tensorFromArray(float32ToFloat16(tokens), shape, commonV1.Dtype.FLOAT16) : tensorFromArray(tokens, shape);
      const raw = tensor.data?.$case === 'raw' ? tensor.data.raw : undefined;
      let cached = false;
      if (req.cache && d.cache && raw) {
        // The producer writes where the consumer reads: the decoder reads this entry's object.
        const key = { modelRevision: d.modelRevision, tenant: ctx.tenant, imageSha256: req.imageSha256, maxSliceNums: req.cache.maxSliceNums, scaleResolution: req.cache.scaleResolution };
        const entry = await d.cache.store(key, raw, { dtype: d.outputDtype, shape });
        tensor = tensorAtRef(tensor, entry.ref);
        cached = true;
      } else if (d.nc) {
        tensor = await claimCheckTensor(d.nc, tensor, d.tensorRefThreshold, { ...d.claim, tenant: ctx.tenant });
      }
      return { visualTokens: tensor, modelRevision: d.modelRevision, timings: { resampleMs: t2 - t1, totalMs: performance.now() - t0 }, cached };
    },
  };
}
