import { describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/runtime';
import { ApiKeyStore, hashApiKey, type TenantQuota } from './api-keys.js';
import { QuotaLedger } from './quota-ledger.js';

const defaults: TenantQuota = { requestsPerMinute: 2, tokensPerMinute: 1000, concurrentStreams: 2, maxImagePixels: 1_800_000, maxImagesPerRequest: 4 };

function store() {
  return new ApiKeyStore(
    {
      tenants: { acme: { tokensPerMinute: 500 } },
      keys: [
        { id: 'a', tenant: 'acme', sha256: hashApiKey('sk-acme') },
        { id: 'old', tenant: 'acme', sha256: hashApiKey('sk-old'), revoked: true },
        { id: 'b', tenant: 'beta', sha256: hashApiKey('sk-beta') },
      ],
    },
    defaults,
  );
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as TesseraError).code;
  }
  return 'OK';
}

describe('ApiKeyStore', () => {
  it('maps hashed keys to tenants with merged quotas', () => {
    const t = store().authenticate('Bearer sk-acme');
    expect(t.id).toBe('acme');
    expect(t.quota.tokensPerMinute).toBe(500);
    expect(t.quota.requestsPerMinute).toBe(2);
  });
  it('rejects missing, malformed, unknown and revoked keys', () => {
    const s = store();
    expect(code(() => s.authenticate(undefined))).toBe('UNAUTHENTICATED');
    expect(code(() => s.authenticate('Basic abc'))).toBe('UNAUTHENTICATED');
    expect(code(() => s.authenticate('Bearer sk-nope'))).toBe('UNAUTHENTICATED');
    expect(() => s.authenticate('Bearer sk-old')).toThrow(/revoked/);
  });
  it('rejects a keys file with a malformed hash', () => {
    expect(() => new ApiKeyStore({ keys: [{ id: 'x', tenant: 't', sha256: 'abc' }] }, defaults)).toThrow(/keys\[0\]\.sha256/);
  });
});

describe('QuotaLedger', () => {
  it('limits requests per minute and says when to retry', () => {
    let now = 0;
    const ledger = new QuotaLedger(() => now);
    const t = store().authenticate('Bearer sk-beta');
    ledger.admit(t, 10).settle({ prompt: 5, completion: 5 });
    ledger.admit(t, 10).settle({ prompt: 5, completion: 5 });
    try {
      ledger.admit(t, 10);
      throw new Error('expected a rate limit');
    } catch (e) {
      expect((e as TesseraError).code).toBe('RESOURCE_EXHAUSTED');
      expect((e as TesseraError).details.retryAfterMs).toBe(30_000);
    }
    now = 30_000; // half a minute refills one of two requests
    expect(code(() => ledger.admit(t, 10))).toBe('OK');
  });

  it('reserves prompt + max_tokens and returns the unused part on settle and release', () => {
    const ledger = new QuotaLedger(() => 0);
    const t = store().authenticate('Bearer sk-beta');
    const r = ledger.admit(t, 800);
    expect(ledger.tokensAvailable(t)).toBe(200);
    expect(code(() => ledger.admit(t, 300))).toBe('RESOURCE_EXHAUSTED');
    r.settle({ prompt: 100, completion: 50 });
    expect(ledger.tokensAvailable(t)).toBe(850);
    const r2 = ledger.admit(t, 100);
    r2.release();
    r2.release(); // idempotent
    expect(ledger.tokensAvailable(t)).toBe(850);
    expect(ledger.usageSnapshot().get('beta')).toMatchObject({ promptTokens: 100, completionTokens: 50 });
  });

  it('limits concurrent streams per tenant without touching other tenants', () => {
    const ledger = new QuotaLedger(() => 0);
    const s = store();
    const acme = s.authenticate('Bearer sk-acme');
    const beta = s.authenticate('Bearer sk-beta');
    const a1 = ledger.admit(acme, 1);
    ledger.admit(acme, 1);
    expect(code(() => ledger.admit(acme, 1))).toBe('RESOURCE_EXHAUSTED');
    expect(code(() => ledger.admit(beta, 1))).toBe('OK');
    a1.settle({ prompt: 1, completion: 0 });
    expect(ledger.concurrent('acme')).toBe(1);
  });

  it('rejects a request that can never fit the tokens/min quota', () => {
    const ledger = new QuotaLedger(() => 0);
    const t = store().authenticate('Bearer sk-acme');
    expect(() => ledger.admit(t, 501)).toThrow(/tokens\/min/);
  });
});
