import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// The gateway's own reader: the file must authenticate exactly as the gateway will.
import { ApiKeyStore } from '../../../services/gateway/src/domain/tenancy/api-keys.js';
import { writeApiKeysFile } from './api-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const QUOTA = { requestsPerMinute: 60, tokensPerMinute: 100_000, concurrentStreams: 4, maxImagePixels: 4_000_000, maxImagesPerRequest: 4 };

describe('writeApiKeysFile', () => {
  it('writes a keys file the gateway authenticates with: plaintext never stored, tenants, revoked and admin keys kept', () => {
    const path = writeApiKeysFile(join(dir, 'keys.json'), [
      { id: 'a', tenant: 'acme', key: 'sk-acme-ü' },
      { id: 'old', tenant: 'acme', key: 'sk-old', revoked: true },
      { id: 'ops', tenant: 'ops', key: 'sk-ops', admin: true },
    ], { acme: { requestsPerMinute: 7 } });
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('sk-');
    const keys = ApiKeyStore.fromFile(path, QUOTA);
    expect(keys.authenticate('Bearer sk-acme-ü')).toMatchObject({ id: 'acme', quota: { requestsPerMinute: 7 } });
    expect(() => keys.authenticate('Bearer sk-old')).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
    expect(keys.authenticateAdmin('Bearer sk-ops').id).toBe('ops');
    expect(() => keys.authenticateAdmin('Bearer sk-acme-ü')).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
  });
});
