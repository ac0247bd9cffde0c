/**
 * The right to erasure as one workflow, independent of the edge that asks for it (the admin HTTP
 * route today): every place a tenant's data was copied, in an order that never leaves a reference
 * behind to something already gone — visual tokens (encoder cache), stored /v1/responses (they refer
 * to images), feedback (responses, feedback, its own image references), stored images (image store),
 * retrieval (every collection).
 * Each call carries the erased tenant as its tenant header, so it cannot reach another tenant.
 */
import type { feedbackV1, retrievalV1 } from '@tessera/contracts';
import type { ServiceClient } from '@tessera/runtime';
import type { EncoderCache, ImageStore } from '@tessera/vision';
import type { StoredResponses } from '../responses/stored-responses.js';

export interface TenantErasureDeps {
  cache: EncoderCache;
  images: ImageStore;
  feedback: ServiceClient<typeof feedbackV1.FeedbackServiceService>;
  retrieval: ServiceClient<typeof retrievalV1.RetrievalServiceService>;
  /** Stored /v1/responses; absent when nothing is stored (TESSERA_GATEWAY_RESPONSES_TTL=0). */
  responses?: StoredResponses;
  /** Per downstream call. Default 60 s. */
  timeoutMs?: number;
}

export interface ErasureReport {
  tenant: string;
  encoderCacheEntries: number;
  imagesDeleted: number;
  responsesDeleted: number;
  /** Stored /v1/responses (conversation state; `responsesDeleted` counts feedback's training records). */
  storedResponsesDeleted: number;
  feedbackDeleted: number;
  collectionsDeleted: string[];
}

export class TenantErasure {
  constructor(private readonly d: TenantErasureDeps) {}

  async erase(tenant: string): Promise<ErasureReport> {
    const call = { tenant, timeoutMs: this.d.timeoutMs ?? 60_000 };
    const encoderCacheEntries = await this.d.cache.purgeTenant(tenant);
    const storedResponsesDeleted = (await this.d.responses?.purgeTenant(tenant)) ?? 0;
    // Feedback first deletes the images its records name (and reports them), then the store purge
    // removes any left over: images admitted for requests that were never recorded.
    const feedback = await this.d.feedback.eraseTenant({ tenant, confirm: tenant }, call);
    const leftover = await this.d.images.purgeTenant(tenant);
    const collectionsDeleted: string[] = [];
    for (let pageToken = ''; ; ) {
      const page = await this.d.retrieval.listCollections({ pageSize: 100, pageToken }, call);
      for (const c of page.collections) collectionsDeleted.push(c.name);
      if (!page.nextPageToken) break;
      pageToken = page.nextPageToken;
    }
    for (const name of collectionsDeleted) await this.d.retrieval.deleteCollection({ name }, call);
    return {
      tenant,
      encoderCacheEntries,
      imagesDeleted: feedback.imagesDeleted + leftover,
      responsesDeleted: feedback.responsesDeleted,
      storedResponsesDeleted,
      feedbackDeleted: feedback.feedbackDeleted,
      collectionsDeleted,
    };
  }
}
