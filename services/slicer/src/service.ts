/**
 * The one implementation of `tessera.vision.v1.SlicerService`, bound to gRPC and to the
 * TESSERA_SLICER work queue by main.ts. Transport-free: bytes in, protobuf messages out.
 */
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from 'nats';
import { commonV1, tensorFromArray, visionV1 } from '@tessera/contracts';
import { putPayload, TesseraError, type CallContext, type ClaimCheckOptions, type ServiceImpl } from '@tessera/runtime';
import { sliceOptionsFromProto, slicePlanToProto, type SliceOptions } from '@tessera/vision';
import { resolveImage } from './image-input.js';
import type { EncodedSlice, SliceEncoder } from './slice-encoder.js';

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
}

export type SlicerImpl = ServiceImpl<typeof visionV1.SlicerServiceService>;

function checkRevision(requested: string, loaded: string): void {
  if (requested && requested !== loaded) {
    throw new TesseraError('FAILED_PRECONDITION', `model_revision ${requested} is not the loaded vision encoder (${loaded})`, { field: 'model_revision', limit: `model_revision = ${loaded}` });
  }
}

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
    const bytes = s.features.byteLength;
    if (bytes > d.tensorRefThreshold && d.nc && tensor.data?.$case === 'raw') {
      // Tenant-scoped like every tensor claim check: only the caller's tenant resolves the reference.
      const ref = await putPayload(d.nc, tensor.data.raw, { ...d.claim, tenant });
      tensor = { ...tensor, data: { $case: 'ref', ref: { bucket: ref.bucket, key: ref.key, size: ref.size, contentType: 'application/x-tessera-tensor' } } };
    }
    return { features: tensor, patchRows: rows, patchCols: cols };
  }

  return {
    async sliceAndEncode(req: visionV1.SliceAndEncodeRequest, ctx: CallContext): Promise<visionV1.SliceAndEncodeResponse> {
      const t0 = performance.now();
      checkRevision(req.modelRevision, d.modelRevision);
      const requested = sliceOptionsFromProto(req.options);
      d.encoder.options(requested); // validate before fetching or decoding anything
      const image = await resolveImage(req.image, { nc: d.nc, maxBytes: d.encoder.settings.limits.maxBytes, claim: d.claim, tenant: ctx.tenant });
      ctx.throwIfAborted();
      const r = await d.encoder.encode(image.bytes, requested, ctx.signal);
      ctx.throwIfAborted();
      const opts = d.encoder.options(requested);
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
      return { plan: slicePlanToProto(plan, d.queryNum, effective(opts, req.options)), imageSha256: image.sha256 };
    },
  };
}
