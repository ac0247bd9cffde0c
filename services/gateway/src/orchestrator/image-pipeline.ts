import type { NatsConnection } from 'nats';
import { commonV1, decodingV1, resamplingV1, visionV1, SERVICES } from '@tessera/contracts';
import { ErrorCode, getPayload, natsClient, TesseraError, type CallOptions, type ServiceClient } from '@tessera/runtime';
import { EncoderCache, planSlices, readImageHeader, sha256Hex, slicePlanJson, DEFAULT_IMAGE_LIMITS, type ImageLimits, type SlicePlan } from '@tessera/vision';
import type { ImageSource } from '../openai/valid-request.js';

/** An image after the cheap checks at the edge: bytes, content hash, header-derived slice plan. */
export interface AdmittedImage {
  field: string;
  bytes: Buffer;
  sha256: string;
  width: number;
  height: number;
  plan: SlicePlan;
  maxSliceNums: number;
  scaleResolution: number;
}

export interface EncodedImage {
  embedding: decodingV1.ImageEmbedding;
  cacheHit: boolean;
  timings: { visionEncodeMs: number; resampleMs: number; preprocessMs: number };
  /** Where the encoded image bytes live, for the feedback record (object store claim check). */
  imageRef?: commonV1.ObjectRef;
}

export interface ImagePipelineOptions {
  limits: ImageLimits;
  scaleResolution: number;
  defaultMaxSliceNums: number;
  useImageId: boolean;
  remoteFetch: { timeoutMs: number; maxBytes: number };
}

/**
 * Images → visual tokens: encoder cache first (a hit skips the slicer and the resampler entirely),
 * then slicer → resampler over their JetStream work queues, and the result stored in the cache.
 */
export class ImagePipeline {
  private readonly slicer: ServiceClient<typeof visionV1.SlicerServiceService>;
  private readonly resampler: ServiceClient<typeof resamplingV1.ResamplerServiceService>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly cache: EncoderCache,
    private readonly modelRevision: string,
    private readonly queryNum: number,
    private readonly o: ImagePipelineOptions,
  ) {
    this.slicer = natsClient(nc, SERVICES.slicer.definition as typeof visionV1.SlicerServiceService, { workQueue: { stage: 'slicer', methods: ['sliceAndEncode'] } });
    this.resampler = natsClient(nc, SERVICES.resampler.definition as typeof resamplingV1.ResamplerServiceService, { workQueue: { stage: 'resampler', methods: ['resample'] } });
  }

  /** Fetches (when allowed), hashes and header-checks every image; per-tenant pixel limit applies. */
  async admit(sources: ImageSource[], maxSliceNums: number | undefined, maxImagePixels: number): Promise<AdmittedImage[]> {
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
        return {
          field: src.field,
          bytes,
          sha256: sha256Hex(bytes),
          width: header.width,
          height: header.height,
          plan: planSlices(header.width, header.height, { maxSliceNums: slices, scaleResolution: this.o.scaleResolution }),
          maxSliceNums: slices,
          scaleResolution: this.o.scaleResolution,
        };
      }),
    );
  }

  visualTokens(img: AdmittedImage): number {
    return this.queryNum * (1 + img.plan.slices.length);
  }

  /** Whether placeholders carry `<image_id>k</image_id>` (part of the prompt's token count). */
  get useImageId(): boolean {
    return this.o.useImageId;
  }

  async encode(img: AdmittedImage, call: CallOptions & { tenant: string }): Promise<EncodedImage> {
    const tenant = call.tenant;
    const key = { modelRevision: this.modelRevision, tenant, imageSha256: img.sha256, maxSliceNums: img.maxSliceNums, scaleResolution: img.scaleResolution };
    const hit = await this.cache.lookup(key);
    if (hit) {
      return {
        embedding: this.embedding(img, { dtype: dtypeOf(hit.dtype), shape: hit.shape, data: { $case: 'ref', ref: { bucket: hit.ref.bucket, key: hit.ref.key, size: hit.ref.size, contentType: 'application/x-tessera-tensor' } } }),
        cacheHit: true,
        timings: { visionEncodeMs: 0, resampleMs: 0, preprocessMs: 0 },
      };
    }
    const sliced = await this.slicer.sliceAndEncode(
      {
        image: { source: { $case: 'data', data: img.bytes }, sha256: img.sha256 },
        options: { maxSliceNums: img.maxSliceNums, scaleResolution: img.scaleResolution, useImageId: this.o.useImageId },
        modelRevision: this.modelRevision,
      },
      call,
    );
    const resampled = await this.resampler.resample({ slices: sliced.slices, modelRevision: this.modelRevision, imageSha256: img.sha256 }, call);
    const tokens = resampled.visualTokens;
    if (!tokens?.data) throw new TesseraError(ErrorCode.INTERNAL, 'resampler returned no visual tokens');
    const bytes = tokens.data.$case === 'raw' ? tokens.data.raw : await getPayload(this.nc, tokens.data.ref);
    const entry = await this.cache.store(key, bytes, { dtype: dtypeName(tokens.dtype), shape: tokens.shape, plan: slicePlanJson(img.plan, this.queryNum) });
    return {
      embedding: this.embedding(img, { dtype: tokens.dtype, shape: tokens.shape, data: { $case: 'ref', ref: { bucket: entry.ref.bucket, key: entry.ref.key, size: entry.ref.size, contentType: 'application/x-tessera-tensor' } } }),
      cacheHit: false,
      timings: {
        preprocessMs: sliced.timings?.imagePreprocessMs ?? 0,
        visionEncodeMs: sliced.timings?.visionEncodeMs ?? 0,
        resampleMs: resampled.timings?.resampleMs ?? 0,
      },
    };
  }

  private embedding(img: AdmittedImage, visualTokens: commonV1.Tensor): decodingV1.ImageEmbedding {
    return {
      visualTokens,
      gridCols: img.plan.grid?.cols ?? 0,
      gridRows: img.plan.grid?.rows ?? 0,
      useImageId: this.o.useImageId,
      imageSha256: img.sha256,
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
function dtypeName(d: commonV1.Dtype): string {
  return Object.entries(DTYPES).find(([, v]) => v === d)?.[0] ?? 'float32';
}

export { DEFAULT_IMAGE_LIMITS };
