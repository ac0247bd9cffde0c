import type { IncomingMessage, ServerResponse } from 'node:http';
import type { feedbackV1, retrievalV1 } from '@tessera/contracts';
import { ErrorCode, TesseraError, type ServiceClient } from '@tessera/runtime';
import type { EncoderCache } from '@tessera/vision';
import type { ApiKeyStore } from '../tenancy/api-keys.js';
import { json, type Route } from './server.js';

export interface AdminRouteDeps {
  keys: ApiKeyStore;
  cache: EncoderCache;
  feedback: ServiceClient<typeof feedbackV1.FeedbackServiceService>;
  retrieval: ServiceClient<typeof retrievalV1.RetrievalServiceService>;
}

const ERASE = /^\/v1\/admin\/tenants\/([^/]+)$/;

/**
 * `DELETE /v1/admin/tenants/{tenant}?confirm={tenant}` (admin key): the right to erasure. Removes the
 * tenant's data from every place it was copied — the encoder cache (visual tokens of its images),
 * feedback (stored prompts, answers, images, feedback), retrieval (every collection) — and reports
 * what it removed. Each call is scoped by the tenant header, so one tenant's erasure cannot reach another's.
 */
export function adminRoutes(deps: AdminRouteDeps): Route[] {
  return [
    async (req: IncomingMessage, res: ServerResponse, url: URL) => {
      const m = ERASE.exec(url.pathname);
      if (!m) return false;
      if (req.method !== 'DELETE') throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'use DELETE to erase a tenant', { field: 'method' });
      deps.keys.authenticateAdmin(req.headers.authorization);
      const tenant = decodeURIComponent(m[1]!);
      if (url.searchParams.get('confirm') !== tenant) {
        throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'erasure needs ?confirm=<tenant> equal to the tenant in the path', { field: 'confirm' });
      }
      const call = { tenant, timeoutMs: 60_000 };
      const encoderCacheEntries = await deps.cache.purgeTenant(tenant);
      const feedback = await deps.feedback.eraseTenant({ tenant, confirm: tenant }, call);
      const collections: string[] = [];
      for (let pageToken = ''; ; ) {
        const page = await deps.retrieval.listCollections({ pageSize: 100, pageToken }, call);
        for (const c of page.collections) collections.push(c.name);
        if (!page.nextPageToken) break;
        pageToken = page.nextPageToken;
      }
      for (const name of collections) await deps.retrieval.deleteCollection({ name }, call);
      json(res, 200, {
        tenant,
        encoder_cache_entries: encoderCacheEntries,
        responses_deleted: feedback.responsesDeleted,
        feedback_deleted: feedback.feedbackDeleted,
        images_deleted: feedback.imagesDeleted,
        collections_deleted: collections,
      });
      return true;
    },
  ];
}
