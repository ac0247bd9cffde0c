/**
 * Cost-based image admission. What an image costs the slicer is decoding and resizing every source
 * pixel (pure-JS bicubic resize, PIL-exact) and then encoding each slice, so the unit is
 * **megapixel-slices**: decoded megapixels × (1 + slices), computed from the header and the slice plan
 * before any pixel is decoded. Measured on this machine: a 6000×6000 single-colour PNG (35 KB on the
 * wire, 36 MP, 9 slices = 360 MP-slices) took 4.6–14 s of slicer time; a 4032×3024 photo (12.2 MP,
 * 9 slices = 122) about a second. Two limits, both configuration and named in the error:
 *  - per request (`TESSERA_GATEWAY_MAX_REQUEST_IMAGE_COST`, default 256): 400, retrying cannot help;
 *  - per tenant per minute (`TESSERA_QUOTA_IMAGE_COST_PER_MINUTE` or the tenant's `imageCostPerMinute`,
 *    default 2048): 429 with Retry-After, charged when the request starts its image work.
 */
import { ErrorCode, TesseraError } from '@tessera/runtime';
import type { Tenant } from './api-keys.js';
import { MinuteBucket } from './quota-ledger.js';

export interface CostedImage {
  field: string;
  width: number;
  height: number;
  plan: { slices: readonly unknown[] };
}

/** Megapixel-slices of one image, rounded to 0.01. */
export function imageCost(img: CostedImage): number {
  return Math.round(((img.width * img.height) / 1e6) * (1 + img.plan.slices.length) * 100) / 100;
}

export class ImageCostBudget {
  private readonly buckets = new Map<string, { perMinute: number; bucket: MinuteBucket }>();

  constructor(
    readonly maxPerRequest: number,
    private readonly defaultPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The request's total cost; INVALID_ARGUMENT naming the limit when one request is over its budget. */
  checkRequest(images: readonly CostedImage[]): number {
    const costs = images.map(imageCost);
    const total = Math.round(costs.reduce((a, b) => a + b, 0) * 100) / 100;
    if (total > this.maxPerRequest) {
      const worst = images[costs.indexOf(Math.max(...costs))]!;
      throw new TesseraError(
        ErrorCode.INVALID_ARGUMENT,
        `images cost ${total} megapixel-slices (decoded megapixels × (1 + slices)); the limit per request is ${this.maxPerRequest}. The largest is ${worst.field}: ${worst.width}×${worst.height} with ${worst.plan.slices.length} slices = ${imageCost(worst)}; send it smaller or with a lower max_slice_nums`,
        { field: worst.field, limit: `image_cost_per_request <= ${this.maxPerRequest} megapixel-slices` },
      );
    }
    return total;
  }

  /** Charges a tenant's per-minute budget; RESOURCE_EXHAUSTED with a retry time when it is spent. */
  charge(tenant: Tenant, cost: number): void {
    if (cost <= 0) return;
    const perMinute = tenant.quota.imageCostPerMinute ?? this.defaultPerMinute;
    let b = this.buckets.get(tenant.id);
    if (!b || b.perMinute !== perMinute) this.buckets.set(tenant.id, (b = { perMinute, bucket: new MinuteBucket(perMinute, this.now) }));
    const r = b.bucket.take(cost);
    if (!r.ok) {
      throw new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, `image budget reached: ${perMinute} megapixel-slices per minute for this tenant (this request needs ${cost})`, {
        field: 'image_cost_per_minute',
        limit: `image_cost_per_minute = ${perMinute} megapixel-slices`,
        retryAfterMs: r.retryAfterMs,
      });
    }
  }
}
