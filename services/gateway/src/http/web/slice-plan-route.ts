import type { IncomingMessage } from 'node:http';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { familySliceOptions, familySlicePlanJson, planSlices, readImageHeader, resolveTokenMode, validateSliceOptions, type ImageLimits, type SliceOptions, type SlicingFamily } from '@tessera/vision';
import { readBodyBytes, readJsonBody } from '../read-body.js';
import type { Route } from '../server.js';
import type { ApiKeyStore } from '../../domain/tenancy/api-keys.js';
import { allowMethod, intParam, sendJson } from './route-kit.js';

export interface SlicePlanRouteDeps {
  keys: ApiKeyStore;
  /** Image limits as the chat path applies them (bytes, pixels, max_slice_nums). */
  limits: ImageLimits;
  /** The served model's slicing: scale_resolution (slice side), default max_slice_nums, patch size. */
  slicing: Pick<SliceOptions, 'scaleResolution' | 'maxSliceNums' | 'patchSize'>;
  /** Resampler queries per image (64 for MiniCPM-V 2.6): visual tokens = images × queryNum. */
  queryNum: number;
  /** The served family (default 2.6). 4.6: 56-px sides, tokens per crop by `downsample_mode`. */
  family?: SlicingFamily;
}

export const SLICE_PLAN_PATH = '/v1/tessera/slice-plan';

/**
 * `POST /v1/tessera/slice-plan`: how the gateway will slice an image and what it costs in visual
 * tokens, from the one implementation the slicer uses (`planSlices`). Body: the image bytes
 * (`Content-Type: image/*` or `application/octet-stream`, header read only: no pixel is decoded) or
 * JSON `{width, height, max_slice_nums?, downsample_mode?}`; `?max_slice_nums=` / `?downsample_mode=`
 * for the bytes form. Answer: `{source:{width,height}, format?, maxSliceNums, scaleResolution, family,
 * mode, overview, grid, refine, slices, images, visualTokens}`; slice boxes are in `refine` pixels
 * (scale by source/refine to draw them on the original). For MiniCPM-V 4.6 the overview and every
 * slice carry their own `tokens` and `mode` is "16x" (default) or "4x"; 2.6 has mode null.
 */
export function slicePlanRoute(deps: SlicePlanRouteDeps): Route {
  return async (req, res, url) => {
    if (url.pathname.replace(/\/+$/, '') !== SLICE_PLAN_PATH) return false;
    if (!allowMethod(req, res, 'POST')) return true;
    deps.keys.authenticate(req.headers.authorization);
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    let width: number;
    let height: number;
    let format: string | undefined;
    let maxSliceNums: number | undefined;
    let mode: string | undefined = url.searchParams.get('downsample_mode') ?? undefined;
    if (/^application\/json\b/.test(type)) {
      const body = await readJsonBody(req, 64 * 1024);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'body must be {"width": int, "height": int, "max_slice_nums"?: int}', { field: 'body' });
      }
      const b = body as Record<string, unknown>;
      width = side(b.width, 'width');
      height = side(b.height, 'height');
      if (width * height > deps.limits.maxPixels) {
        // Like chat: an image over a size limit is the request's problem (400), never a retryable quota.
        throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `image is ${width}×${height} = ${width * height} pixels, over the limit of ${deps.limits.maxPixels}`, { field: 'image', limit: `pixels <= ${deps.limits.maxPixels}` });
      }
      if (b.max_slice_nums !== undefined && b.max_slice_nums !== null) maxSliceNums = b.max_slice_nums as number;
      if (b.downsample_mode !== undefined && b.downsample_mode !== null) {
        if (typeof b.downsample_mode !== 'string') throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'downsample_mode must be a string ("16x" or "4x")', { field: 'downsample_mode' });
        mode = b.downsample_mode;
      }
    } else if (/^image\//.test(type) || type.startsWith('application/octet-stream') || type === '') {
      const bytes = await readBytes(req, deps.limits.maxBytes);
      let header;
      try {
        header = await readImageHeader(bytes, deps.limits);
      } catch (err) {
        const e = TesseraError.from(err);
        throw new TesseraError(ErrorCode.INVALID_ARGUMENT, e.message, { ...e.details, field: 'image' }, { cause: err });
      }
      ({ width, height, format } = header);
      maxSliceNums = intParam(url, 'max_slice_nums', 1, deps.limits.maxSliceNums);
    } else {
      req.resume();
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `Content-Type must be image/*, application/octet-stream or application/json, got ${type}`, { field: 'content-type' });
    }
    const family = deps.family ?? '2.6';
    const tokenMode = resolveTokenMode(family, mode);
    const options = validateSliceOptions(familySliceOptions(family, { ...deps.slicing, ...(maxSliceNums !== undefined && { maxSliceNums }) }), deps.limits);
    const plan = familySlicePlanJson(planSlices(width, height, options), family, tokenMode, options.patchSize);
    if (family === '2.6') {
      // 2.6's documented shape: no per-crop token counts (every image is queryNum tokens).
      plan.visualTokens = deps.queryNum * (1 + plan.slices.length);
    }
    sendJson(res, 200, {
      source: { width, height },
      ...(format && { format }),
      maxSliceNums: options.maxSliceNums,
      scaleResolution: options.scaleResolution,
      ...plan,
      ...(family === '2.6' && { overview: { width: plan.overview.width, height: plan.overview.height }, slices: plan.slices.map(({ tokens: _t, ...box }) => box) }),
      images: 1 + plan.slices.length,
    });
    return true;
  };
}

function side(raw: unknown, field: string): number {
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > 1_000_000) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${field} must be an integer in 1..1000000, got ${JSON.stringify(raw)}`, { field, limit: `1 <= ${field} <= 1000000` });
  }
  return raw;
}

async function readBytes(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = (n: number) =>
    new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, `image is ${n} bytes, over the limit of ${maxBytes} bytes`, { field: 'image', limit: `image bytes <= ${maxBytes}`, payloadTooLarge: true });
  return readBodyBytes(req, maxBytes, tooLarge);
}
