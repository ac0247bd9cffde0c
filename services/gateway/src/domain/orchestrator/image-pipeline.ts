import type { NatsConnection } from 'nats';
import { commonV1, decodingV1, resamplingV1, visionV1, SERVICES } from '@tessera/contracts';
import { ErrorCode, natsClient, sha256Hex, tensorAtRef, TesseraError, type CallOptions, type ServiceClient } from '@tessera/runtime';
import {
  EncoderCache,
  familySliceOptions,
  ImageStore,
  planSlices,
  planTokens,
  readImageHeader,
  resolveTokenMode,
  slicePlanToProto,
  DEFAULT_IMAGE_LIMITS,
  type ImageLimits,
  type SlicePlan,
  type SlicingFamily,
  type StoredImage,
  type TokenMode,
} from '@tessera/vision';
import type { ImageSource } from '../openai/valid-request.js';

/**
 * An image after the checks at the edge: content hash (computed once, here), header-derived slice
 * plan, and — once `store` ran — its reference in the image store. The bytes are dropped when the
 * image is stored; from then on every stage and the feedback record carry the reference.
 */
export interface AdmittedImage {
  field: string;
  /** Encoded bytes until stored, then undefined (the gateway holds no image bytes after admission). */
  bytes: Buffer | undefined;
  sha256: string;
  contentType: string;
  size: number;
  width: number;
  height: number;
  plan: SlicePlan;
  maxSliceNums: number;
  scaleResolution: number;
  /** The image-store reference (set by `store`). */
  stored?: StoredImage;
  /** MiniCPM-V 4.6: the request's token mode and each image's token count (overview first); unset for 2.6. */
  downsampleMode?: TokenMode;
  tokensPerImage?: number[];
}

export interface EncodedImage {
  embedding: decodingV1.ImageEmbedding;
  cacheHit: boolean;
  timings: { visionEncodeMs: number; resampleMs: number; preprocessMs: number };
}

export interface ImagePipelineOptions {
  limits: ImageLimits;
  scaleResolution: number;
  defaultMaxSliceNums: number;
  useImageId: boolean;
  remoteFetch: { timeoutMs: number; maxBytes: number };
  /**
   * The served family (default 2.6). 4.6 has no resampler: slices snap to 56 px, the slicer writes the
   * visual tokens into the encoder cache itself, and a request may pick the token mode.
   */
  family?: SlicingFamily;
}

/**
 * Images → visual tokens, by reference only: the image is stored once (image store), then the
 * encoder cache is looked up (a hit skips the slicer and the resampler entirely); on a miss the
 * slicer reads the image by reference and the resampler writes the tokens into the cache itself.
 * The decoder gets the cache reference either way. Bytes over the bus per image on a miss: the image
 * twice (store, slicer), the features twice, the visual tokens twice (resampler → cache → decoder).
 */
export class ImagePipeline {
  private readonly slicer: ServiceClient<typeof visionV1.SlicerServiceService>;
  private readonly resampler: ServiceClient<typeof resamplingV1.ResamplerServiceService>;

  constructor(
    nc: NatsConnection,
    private readonly cache: EncoderCache,
    private readonly store: ImageStore,
    private readonly modelRevision: string,
    private readonly queryNum: number,
    private readonly o: ImagePipelineOptions,
  ) {
    this.slicer = natsClient(nc, SERVICES.slicer.definition as typeof visionV1.SlicerServiceService, { workQueue: { stage: 'slicer', methods: ['sliceAndEncode'] } });
    this.resampler = natsClient(nc, SERVICES.resampler.definition as typeof resamplingV1.ResamplerServiceService, { workQueue: { stage: 'resampler', methods: ['resample'] } });
  }

  get family(): SlicingFamily {
    return this.o.family ?? '2.6';
  }

  /**
   * Fetches (when allowed), hashes and header-checks every image; per-tenant pixel limit applies.
   * `downsampleMode` (mm_processor_kwargs) is checked against the family even without images:
   * a mode the served model does not have is a 400 naming it.
   */
  async admit(sources: ImageSource[], maxSliceNums: number | undefined, maxImagePixels: number, downsampleMode?: string): Promise<AdmittedImage[]> {
    const mode = resolveTokenMode(this.family, downsampleMode, 'mm_processor_kwargs.downsample_mode') ?? undefined;
    const limits: ImageLimits = { ...this.o.limits, maxPixels: Math.min(this.o.limits.maxPixels, maxImagePixels) };
    return Promise.all(
      sources.map(async (src) => {
        const bytes = src.kind === 'bytes' ? src.bytes : await this.fetchRemote(src.url, src.field);
        let header;
        try {
          header = await readImageHeader(bytes, limits);
        } catch (err) {
          // At the edge every image problem is the caller's request, never a retryable quota: 400 with the field.
          const e = TesseraError.from(err);
          throw new TesseraError(ErrorCode.INVALID_ARGUMENT, e.message, { ...e.details, field: src.field }, { cause: err });
        }
        const slices = maxSliceNums ?? this.o.defaultMaxSliceNums;
        const plan = planSlices(header.width, header.height, familySliceOptions(this.family, { maxSliceNums: slices, scaleResolution: this.o.scaleResolution }));
        return {
          field: src.field,
          bytes,
          sha256: sha256Hex(bytes), // the one hash of this image in this request
          contentType: `image/${header.format}`,
          size: bytes.length,
          width: header.width,
          height: header.height,
          plan,
          maxSliceNums: slices,
          scaleResolution: this.o.scaleResolution,
          ...(mode && { downsampleMode: mode, tokensPerImage: planTokens(plan, this.family, mode) }),
        };
      }),
    );
  }

  visualTokens(img: AdmittedImage): number {
    return img.tokensPerImage ? img.tokensPerImage.reduce((a, b) => a + b, 0) : this.queryNum * (1 + img.plan.slices.length);
  }

  /** Stores the image once for the tenant and drops the bytes; idempotent per admitted image. */
  async storeImage(img: AdmittedImage, tenant: string): Promise<StoredImage> {
    if (img.stored) return img.stored;
    if (!img.bytes) throw new TesseraError(ErrorCode.INTERNAL, `${img.field}: image has neither bytes nor a stored reference`);
    img.stored = await this.store.put(tenant, img.bytes, img.sha256, img.contentType);
    img.bytes = undefined;
    return img.stored;
  }

  /** Whether placeholders carry `<image_id>k</image_id>` (part of the prompt's token count). */
  get useImageId(): boolean {
    return this.o.useImageId;
  }

  async encode(img: AdmittedImage, call: CallOptions & { tenant: string }): Promise<EncodedImage> {
    const tenant = call.tenant;
    const stored = await this.storeImage(img, tenant);
    const key = { modelRevision: this.modelRevision, tenant, imageSha256: img.sha256, maxSliceNums: img.maxSliceNums, scaleResolution: img.scaleResolution, ...(img.downsampleMode && { downsampleMode: img.downsampleMode }) };
    const hit = await this.cache.lookup(key);
    if (hit) {
      return {
        embedding: this.embedding(img, tensorAtRef({ dtype: dtypeOf(hit.dtype), shape: hit.shape }, hit.ref)),
        cacheHit: true,
        timings: { visionEncodeMs: 0, resampleMs: 0, preprocessMs: 0 },
      };
    }
    if (img.downsampleMode) return this.encodeWithoutResampler(img, stored, call);
    const sliced = await this.slice(img, call);
    const resampled = await this.resample(
      { slices: sliced.slices, modelRevision: this.modelRevision, imageSha256: img.sha256, cache: { maxSliceNums: img.maxSliceNums, scaleResolution: img.scaleResolution }, groupSizes: [], temporalIds: [] },
      call,
    );
    const tokens = resampled.visualTokens;
    if (!tokens?.data) throw new TesseraError(ErrorCode.INTERNAL, 'resampler returned no visual tokens');
    if (!resampled.cached || tokens.data.$case !== 'ref') throw new TesseraError(ErrorCode.INTERNAL, 'the resampler did not write the visual tokens into the encoder cache (an older resampler?)');
    return {
      embedding: this.embedding(img, tokens),
      cacheHit: false,
      timings: {
        preprocessMs: sliced.timings?.imagePreprocessMs ?? 0,
        visionEncodeMs: sliced.timings?.visionEncodeMs ?? 0,
        resampleMs: resampled.timings?.resampleMs ?? 0,
      },
    };
  }

  /** The slicer's patch features of a stored (or to-be-stored) image, cut by the admission plan. */
  async slice(img: AdmittedImage, call: CallOptions & { tenant: string }): Promise<visionV1.SliceAndEncodeResponse> {
    const stored = await this.storeImage(img, call.tenant);
    return this.slicer.sliceAndEncode(
      {
        image: { source: { $case: 'ref', ref: stored }, sha256: img.sha256 },
        options: { maxSliceNums: img.maxSliceNums, scaleResolution: img.scaleResolution, useImageId: this.o.useImageId },
        modelRevision: this.modelRevision,
        plan: this.planProto(img),
      },
      call,
    );
  }

  /** One ResamplerService.Resample call (images: per slice into the cache; video: frame groups, inline or claim check). */
  resample(req: resamplingV1.ResampleRequest, call: CallOptions & { tenant: string }): Promise<resamplingV1.ResampleResponse> {
    return this.resampler.resample(req, call);
  }

  /**
   * A family without a resampler (MiniCPM-V 4.6): the slicer's vision stage ends at the LLM width and
   * writes the visual tokens into the encoder cache itself; no resampler call.
   */
  private async encodeWithoutResampler(img: AdmittedImage, stored: StoredImage, call: CallOptions & { tenant: string }): Promise<EncodedImage> {
    const sliced = await this.slicer.sliceAndEncode(
      {
        image: { source: { $case: 'ref', ref: stored }, sha256: img.sha256 },
        options: { maxSliceNums: img.maxSliceNums, scaleResolution: img.scaleResolution, useImageId: this.o.useImageId, downsampleMode: img.downsampleMode },
        modelRevision: this.modelRevision,
        cacheVisualTokens: true,
        plan: this.planProto(img),
      },
      call,
    );
    const tokens = sliced.visualTokens;
    if (!sliced.cached || tokens?.data?.$case !== 'ref') throw new TesseraError(ErrorCode.INTERNAL, 'the slicer did not write the visual tokens into the encoder cache (a slicer without a MiniCPM-V 4.6 model?)');
    return {
      embedding: this.embedding(img, tokens),
      cacheHit: false,
      timings: { preprocessMs: sliced.timings?.imagePreprocessMs ?? 0, visionEncodeMs: sliced.timings?.visionEncodeMs ?? 0, resampleMs: 0 },
    };
  }

  /**
   * The admission plan, sent with the work so the slicer cuts what the prompt was laid out for
   * (one plan per image per request; the slicer checks it in O(slices) instead of planning again).
   */
  private planProto(img: AdmittedImage) {
    const options = { maxSliceNums: img.maxSliceNums, scaleResolution: img.scaleResolution, useImageId: this.o.useImageId, ...(img.downsampleMode && { downsampleMode: img.downsampleMode }) };
    return slicePlanToProto(img.plan, this.queryNum, options, img.tokensPerImage);
  }

  private embedding(img: AdmittedImage, visualTokens: commonV1.Tensor): decodingV1.ImageEmbedding {
    return {
      visualTokens,
      gridCols: img.plan.grid?.cols ?? 0,
      gridRows: img.plan.grid?.rows ?? 0,
      useImageId: this.o.useImageId,
      imageSha256: img.sha256,
      ...(img.tokensPerImage && { layout: { tokensPerImage: img.tokensPerImage, downsampleMode: img.downsampleMode ?? '' } }),
    };
  }

  private async fetchRemote(url: URL, field: string): Promise<Buffer> {
    const { timeoutMs, maxBytes } = this.o.remoteFetch;
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    } catch (err) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `could not fetch image ${url.href} within ${timeoutMs} ms`, { field, limit: `fetch time <= ${timeoutMs} ms` }, { cause: err });
    }
    if (!res.ok || !res.body) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `fetching image ${url.href} returned HTTP ${res.status}`, { field });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > maxBytes) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `image at ${url.href} is larger than ${maxBytes} bytes`, { field, limit: `image bytes <= ${maxBytes}` });
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  }
}

const DTYPES: Record<string, commonV1.Dtype> = {
  float32: commonV1.Dtype.FLOAT32,
  float16: commonV1.Dtype.FLOAT16,
  bfloat16: commonV1.Dtype.BFLOAT16,
};
function dtypeOf(name: string): commonV1.Dtype {
  return DTYPES[name] ?? commonV1.Dtype.FLOAT32;
}

export { DEFAULT_IMAGE_LIMITS };
