/**
 * The one implementation of `tessera.vision.v1.SlicerService`, bound to gRPC and to the
 * TESSERA_SLICER work queue by main.ts. Transport-free: bytes in, protobuf messages out.
 */
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from 'nats';
import { commonV1, tensorFromArray, visionV1 } from '@tessera/contracts';
import { claimCheckTensor, invalidArgument, tensorAtRef, TesseraError, type CallContext, type ClaimCheckOptions, type ServiceImpl } from '@tessera/runtime';
import { checkModelRevision } from '@tessera/errors';
import { sliceOptionsFromProto, slicePlanFromProto, slicePlanToProto, type EncoderCache, type SliceOptions } from '@tessera/vision';
import { resolveImage } from './adapters/image-input.js';
import type { EncodedSlice, EncodeResult, SliceEncoder } from './domain/slice-encoder.js';

export interface SlicerServiceDeps {
  encoder: SliceEncoder;
  modelRevision: string;
  queryNum: number;
  useImageId: boolean;
  /** For ObjectRef inputs and large outputs; undefined = inline only. */
  nc: NatsConnection | undefined;
  claim: ClaimCheckOptions;
  /** A feature tensor larger than this goes to the object store. */
  tensorRefThreshold: number;
  /**
   * Where `cache_visual_tokens` writes (a model without a resampler, MiniCPM-V 4.6: the slicer is the
   * producer of the visual tokens); undefined = such requests are refused.
   */
  cache?: EncoderCache;
}

const SHA256 = /^[0-9a-f]{64}$/;

export type SlicerImpl = ServiceImpl<typeof visionV1.SlicerServiceService>;

export function createSlicerService(d: SlicerServiceDeps): SlicerImpl {
  const effective = (o: SliceOptions, req: visionV1.SliceOptions | undefined) => ({
    maxSliceNums: o.maxSliceNums,
    scaleResolution: o.scaleResolution,
    useImageId: req?.useImageId ?? d.useImageId,
    downsampleMode: o.downsampleMode,
  });

  async function features(s: EncodedSlice, hidden: number, tenant: string): Promise<commonV1.PatchFeatures> {
    const [rows, cols] = s.tgtSize;
    let tensor = tensorFromArray(s.features, [rows * cols, hidden]);
    // Tenant-scoped like every tensor claim check: only the caller's tenant resolves the reference.
    if (d.nc) tensor = await claimCheckTensor(d.nc, tensor, d.tensorRefThreshold, { ...d.claim, tenant });
    return { features: tensor, patchRows: rows, patchCols: cols };
  }

  /** The tokens of every crop, concatenated in model order, written into the encoder cache once. */
  async function cachedTokens(req: visionV1.SliceAndEncodeRequest, ctx: CallContext, r: EncodeResult, opts: SliceOptions, sha256: string, t0: number): Promise<visionV1.SliceAndEncodeResponse> {
    const hidden = d.encoder.hiddenSize;
    const total = r.slices.reduce((a, s) => a + s.features.length, 0);
    const all = new Float32Array(total);
    let o = 0;
    for (const s of r.slices) {
      all.set(s.features, o);
      o += s.features.length;
    }
    const key = { modelRevision: d.modelRevision, tenant: ctx.tenant, imageSha256: sha256, maxSliceNums: opts.maxSliceNums, scaleResolution: opts.scaleResolution, ...(opts.downsampleMode && { downsampleMode: opts.downsampleMode }) };
    const shape = [total / hidden, hidden];
    const entry = await d.cache!.store(key, new Uint8Array(all.buffer, all.byteOffset, all.byteLength), { dtype: 'float32', shape });
    return {
      plan: slicePlanToProto(r.plan, d.queryNum, effective(opts, req.options), r.tokensPerImage),
      slices: r.slices.map((s) => ({ patchRows: s.tgtSize[0], patchCols: s.tgtSize[1] })),
      modelRevision: d.modelRevision,
      imageSha256: sha256,
      timings: { imagePreprocessMs: r.preprocessMs, visionEncodeMs: r.encodeMs, totalMs: performance.now() - t0 },
      visualTokens: tensorAtRef({ dtype: commonV1.Dtype.FLOAT32, shape }, entry.ref),
      cached: true,
    };
  }

  return {
    async sliceAndEncode(req: visionV1.SliceAndEncodeRequest, ctx: CallContext): Promise<visionV1.SliceAndEncodeResponse> {
      const t0 = performance.now();
      checkModelRevision(req.modelRevision, d.modelRevision, 'vision encoder');
      const requested = sliceOptionsFromProto(req.options);
      d.encoder.options(requested); // validate before fetching or decoding anything
      if (req.cacheVisualTokens) {
        if (d.queryNum > 0) throw new TesseraError('FAILED_PRECONDITION', 'cache_visual_tokens: the loaded model has a resampler; its visual tokens come from ResamplerService', { field: 'cache_visual_tokens' });
        if (!d.cache) throw new TesseraError('FAILED_PRECONDITION', 'cache_visual_tokens is set but this slicer has no encoder cache (it runs without NATS)', { field: 'cache_visual_tokens' });
        if (!SHA256.test(req.image?.sha256 ?? '')) throw invalidArgument('image.sha256', 'image.sha256 (64 lowercase hex characters) is required with cache_visual_tokens', 'sha256 = 64 hex chars');
      }
      const image = await resolveImage(req.image, { nc: d.nc, maxBytes: d.encoder.settings.limits.maxBytes, claim: d.claim, tenant: ctx.tenant });
      ctx.throwIfAborted();
      // The caller's plan (the gateway plans once, at admission) is checked and cut as is; older callers send none.
      const r = await d.encoder.encode(image.bytes, requested, ctx.signal, req.plan ? slicePlanFromProto(req.plan) : undefined);
      ctx.throwIfAborted();
      const opts = d.encoder.options(requested);
      if (req.cacheVisualTokens) return cachedTokens(req, ctx, r, opts, image.sha256, t0);
      const slices = await Promise.all(r.slices.map((s) => features(s, d.encoder.hiddenSize, ctx.tenant)));
      return {
        plan: slicePlanToProto(r.plan, d.queryNum, effective(opts, req.options), r.tokensPerImage),
        slices,
        modelRevision: d.modelRevision,
        imageSha256: image.sha256,
        timings: { imagePreprocessMs: r.preprocessMs, visionEncodeMs: r.encodeMs, totalMs: performance.now() - t0 },
      };
    },

    async planSlices(req: visionV1.PlanSlicesRequest, ctx: CallContext): Promise<visionV1.PlanSlicesResponse> {
      const requested = sliceOptionsFromProto(req.options);
      const opts = d.encoder.options(requested);
      const image = await resolveImage(req.image, { nc: d.nc, maxBytes: d.encoder.settings.limits.maxBytes, claim: d.claim, tenant: ctx.tenant });
      const plan = await d.encoder.plan(image.bytes, requested);
      return { plan: slicePlanToProto(plan, d.queryNum, effective(opts, req.options), d.encoder.tokensPerImage(plan, opts)), imageSha256: image.sha256 };
    },
  };
}
