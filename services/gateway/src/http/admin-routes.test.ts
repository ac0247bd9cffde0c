/**
 * The erasure route's bad input over real HTTP (issue 20 item 8): who asks comes first (no key 401,
 * a non-admin 403 whatever the method), then the method, then the path (a malformed %-escape is a 400
 * naming `tenant`, not a 500) and the confirmation. Only a well-formed admin DELETE reaches erasure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { ChatService } from '../domain/chat-events.js';
import { DEFAULT_CHAT_LIMITS } from '../domain/openai/limits.js';
import { ApiKeyStore, hashApiKey } from '../domain/tenancy/api-keys.js';
import { QuotaLedger } from '../domain/tenancy/quota-ledger.js';
import type { TenantErasure } from '../domain/tenancy/tenant-erasure.js';
import { adminRoutes } from './admin-routes.js';
import { createHttpServer } from './server.js';

const erased: string[] = [];
const erasure = {
  async erase(tenant: string) {
    erased.push(tenant);
    return { encoderCacheEntries: 1, responsesDeleted: 2, feedbackDeleted: 3, imagesDeleted: 4, collectionsDeleted: ['c'] };
  },
} as unknown as TenantErasure;

let server: Server;
let base: string;
beforeAll(async () => {
  const keys = new ApiKeyStore(
    { keys: [{ id: 'user', tenant: 't1', sha256: hashApiKey('sk-user') }, { id: 'ops', tenant: 'ops', sha256: hashApiKey('sk-admin'), admin: true }] },
    { requestsPerMinute: 1000, tokensPerMinute: 1_000_000, concurrentStreams: 8, maxImagePixels: 4_000_000, maxImagesPerRequest: 4 },
  );
  server = createHttpServer({
    keys,
    quotas: new QuotaLedger(),
    chat: {} as ChatService,
    limits: DEFAULT_CHAT_LIMITS,
    models: () => ['tiny'],
    maxBodyBytes: 4096,
    requestTimeoutMs: 10_000,
    ready: () => true,
    routes: adminRoutes({ keys, erasure }),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function call(path: string, method: string, key?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, { method, ...(key && { headers: { authorization: `Bearer ${key}` } }) });
  return { status: res.status, body: await res.json() };
}

describe('admin erasure route: bad input', () => {
  it('no key → 401; a non-admin key → 403 before any method or path check', async () => {
    expect((await call('/v1/admin/tenants/t1?confirm=t1', 'DELETE')).status).toBe(401);
    for (const [path, method] of [['/v1/admin/tenants/t1?confirm=t1', 'DELETE'], ['/v1/admin/tenants/t1', 'GET'], ['/v1/admin/tenants/%E0%A4%A', 'POST']] as const) {
      const r = await call(path, method, 'sk-user');
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.error.message).toMatch(/not an admin key/);
    }
  });

  it('an admin: wrong method 400, malformed %-escape 400 naming tenant, missing confirmation 400; then erases', async () => {
    const method = await call('/v1/admin/tenants/t1?confirm=t1', 'GET', 'sk-admin');
    expect([method.status, method.body.error.param]).toEqual([400, 'method']);
    const malformed = await call('/v1/admin/tenants/%E0%A4%A?confirm=x', 'DELETE', 'sk-admin');
    expect([malformed.status, malformed.body.error.param]).toEqual([400, 'tenant']);
    expect(malformed.body.error.message).toMatch(/percent-encoding/);
    const unconfirmed = await call('/v1/admin/tenants/t1?confirm=t2', 'DELETE', 'sk-admin');
    expect([unconfirmed.status, unconfirmed.body.error.param]).toEqual([400, 'confirm']);
    expect(erased).toEqual([]);
    const ok = await call('/v1/admin/tenants/a%20b?confirm=a%20b', 'DELETE', 'sk-admin');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ tenant: 'a b', images_deleted: 4 });
    expect(erased).toEqual(['a b']);
  });
});
