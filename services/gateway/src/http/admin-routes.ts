import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import type { ApiKeyStore } from '../domain/tenancy/api-keys.js';
import type { TenantErasure } from '../domain/tenancy/tenant-erasure.js';
import type { Route } from './server.js';
import { sendJson } from './web/route-kit.js';
import { decodePathParam } from './read-body.js';

export interface AdminRouteDeps {
  keys: ApiKeyStore;
  erasure: TenantErasure;
}

const ERASE = /^\/v1\/admin\/tenants\/([^/]+)$/;

/**
 * `DELETE /v1/admin/tenants/{tenant}?confirm={tenant}` (admin key): the right to erasure. The route
 * only authenticates and checks the confirmation; TenantErasure removes the data everywhere it was
 * copied and this answers with what it removed.
 */
export function adminRoutes(deps: AdminRouteDeps): Route[] {
  return [
    async (req: IncomingMessage, res: ServerResponse, url: URL) => {
      const m = ERASE.exec(url.pathname);
      if (!m) return false;
      // Who may ask comes first: a non-admin learns nothing about the route (403), not its method rules.
      deps.keys.authenticateAdmin(req.headers.authorization);
      if (req.method !== 'DELETE') throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'use DELETE to erase a tenant', { field: 'method' });
      const tenant = decodePathParam(m[1]!, 'tenant');
      if (url.searchParams.get('confirm') !== tenant) {
        throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'erasure needs ?confirm=<tenant> equal to the tenant in the path', { field: 'confirm' });
      }
      const r = await deps.erasure.erase(tenant);
      sendJson(res, 200, {
        tenant,
        encoder_cache_entries: r.encoderCacheEntries,
        responses_deleted: r.responsesDeleted,
        stored_responses_deleted: r.storedResponsesDeleted,
        feedback_deleted: r.feedbackDeleted,
        images_deleted: r.imagesDeleted,
        collections_deleted: r.collectionsDeleted,
      });
      return true;
    },
  ];
}
