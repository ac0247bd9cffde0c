import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { renderNatsAuthorization, servicePermissions } from '@tessera/runtime';
import { startNatsServer } from '@tessera/testing';
import { KvResponseStore } from './kv-response-store.js';

describe('KvResponseStore', () => {
  it("works with the gateway's own NATS user (the grants deploy/nats/auth.conf and the edge users carry), and no other service's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-kv-responses-'));
    const perms = servicePermissions();
    const conf = join(dir, 'nats.conf');
    writeFileSync(conf, `jetstream { store_dir: ${JSON.stringify(join(dir, 'js'))} }\n${renderNatsAuthorization([{ user: 'gateway', password: 'pw-g', permissions: perms.gateway }, { user: 'decoder', password: 'pw-d', permissions: perms.decoder }])}`);
    const server = await startNatsServer({ configFile: conf });
    const gateway = await connect({ servers: server.url, user: 'gateway', pass: 'pw-g', inboxPrefix: '_INBOX.gateway' });
    const decoder = await connect({ servers: server.url, user: 'decoder', pass: 'pw-d', inboxPrefix: '_INBOX.decoder' });
    try {
      const store = await KvResponseStore.open(gateway, { bucket: 'tessera-responses', ttlMs: 60_000, maxValueBytes: 64 * 1024 });
      const record = { response: { id: 'resp_1' }, input: [{ role: 'user', content: 'hi' }], createdAt: Date.now() };
      await store.put('acme', 'resp_1', record);
      await store.put('acme', 'resp_2', record);
      await store.put('acmf', 'resp_3', record);
      expect(await store.get('acme', 'resp_1')).toEqual(record);
      expect(await store.get('other', 'resp_1')).toBeUndefined();
      expect(await store.delete('acme', 'resp_1')).toBe(true);
      expect(await store.delete('acme', 'resp_1')).toBe(false);
      expect(await store.get('acme', 'resp_1')).toBeUndefined();
      // Hex tenant prefixes: "acme" never matches "acmf"'s keys (nor a prefix of another tenant's name).
      expect(await store.purgeTenant('acme')).toBe(1);
      expect(await store.get('acmf', 'resp_3')).toEqual(record);
      await expect(KvResponseStore.open(decoder, { bucket: 'tessera-responses', ttlMs: 60_000, maxValueBytes: 64 * 1024 })).rejects.toThrow();
    } finally {
      await gateway.close();
      await decoder.close();
      await server.stop();
    }
  });
});
