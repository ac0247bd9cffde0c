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
import type { GroupInput, ResampleBatcher, SliceInput } from './domain/resample-batcher.js';

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
  /** 4.5's 3D resampler: frame groups (`group_sizes` / `temporal_ids`) accepted; false for 2.6. */
  temporal: boolean;
  /** Frames per group (default 6: upstream MAX_NUM_PACKING's valid range). */
  maxGroupFrames: number;
  /** Largest temporal id (0.1-s units; default 72000 = 2 h, the upstream resampler's cache size). */
  maxTemporalId: number;
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

  /** group_sizes / temporal_ids: a 3D-resampler model, sizes 1..max summing to the slices, one id per slice. */
  function checkGroups(req: resamplingV1.ResampleRequest, n: number): void {
    if (!d.temporal) throw invalidArgument('group_sizes', 'group_sizes / temporal_ids need a model with the 3D (temporal) resampler, MiniCPM-V 4.5; this model has none', 'group_sizes empty');
    if (req.cache) throw invalidArgument('cache', 'cache is not supported with group_sizes (the encoder-cache key has no temporal ids)', 'cache unset with group_sizes');
    if (req.groupSizes.length === 0) throw invalidArgument('group_sizes', 'temporal_ids is set, so group_sizes is required (frames per group)', 'group_sizes non-empty');
    req.groupSizes.forEach((s, g) => {
      if (!Number.isInteger(s) || s < 1 || s > d.maxGroupFrames) throw invalidArgument(`group_sizes[${g}]`, `group_sizes[${g}] = ${s}; a group holds 1..${d.maxGroupFrames} frames`, `1 <= group_sizes[i] <= ${d.maxGroupFrames}`);
    });
    const total = req.groupSizes.reduce((a, b) => a + b, 0);
    if (total !== n) throw invalidArgument('group_sizes', `group_sizes sum to ${total}, but there are ${n} slices`, `sum(group_sizes) = ${n}`);
    if (req.temporalIds.length !== n) throw invalidArgument('temporal_ids', `temporal_ids has ${req.temporalIds.length} entries; one per slice (${n}) is needed`, `len(temporal_ids) = ${n}`);
    req.temporalIds.forEach((t, i) => {
      if (!Number.isInteger(t) || t < -1 || t > d.maxTemporalId) throw invalidArgument(`temporal_ids[${i}]`, `temporal_ids[${i}] = ${t}; ids are -1 (image) or 0..${d.maxTemporalId} (0.1-s units)`, `-1 <= temporal_ids[i] <= ${d.maxTemporalId}`);
    });
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
      // In-process callers built before these fields existed may omit them (ts-proto decode fills them).
      req = { ...req, groupSizes: req.groupSizes ?? [], temporalIds: req.temporalIds ?? [] };
      const grouped = req.groupSizes.length > 0 || req.temporalIds.length > 0;
      if (grouped) checkGroups(req, n);
      const inputs = await Promise.all(req.slices.map((p, i) => readSlice(p, i, ctx.tenant)));
      ctx.throwIfAborted();
      const t1 = performance.now();
      let tokens: Float32Array;
      let rows = n;
      if (grouped) {
        const groups: GroupInput[] = [];
        let at = 0;
        req.groupSizes.forEach((size, g) => {
          const frames = inputs.slice(at, at + size);
          const [h, w] = frames[0]!.tgtSize;
          frames.forEach((f, j) => {
            if (f.tgtSize[0] !== h || f.tgtSize[1] !== w) {
              throw invalidArgument(`slices[${at + j}].patch_rows`, `slices[${at + j}] is ${f.tgtSize[0]}×${f.tgtSize[1]} patches; every frame of group ${g} must be ${h}×${w} like slices[${at}]`, `patch grid = ${h}x${w}`);
            }
          });
          groups.push({ frames, temporalIds: req.temporalIds.slice(at, at + size) });
          at += size;
        });
        tokens = await d.batcher.resampleGroups(groups, ctx.signal);
        rows = groups.length;
      } else {
        tokens = await d.batcher.resample(inputs, ctx.signal);
      }
      const t2 = performance.now();
      const shape = [rows, d.batcher.model.queryNum, d.batcher.model.embedDim];
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
