import { ErrorCode, TesseraError } from '@tessera/runtime';
import type { Tenant } from './api-keys.js';

/** A token bucket that refills continuously: `capacity` units per 60 s. */
export class MinuteBucket {
  private level: number;
  private updatedAt: number;
  constructor(
    private readonly capacity: number,
    private readonly now: () => number,
  ) {
    this.level = capacity;
    this.updatedAt = now();
  }

  private refill(): void {
    const t = this.now();
    this.level = Math.min(this.capacity, this.level + ((t - this.updatedAt) * this.capacity) / 60_000);
    this.updatedAt = t;
  }

  /** Takes `n` units, or returns the milliseconds until `n` would be available. */
  take(n: number): { ok: true } | { ok: false; retryAfterMs: number } {
    this.refill();
    if (n <= this.level) {
      this.level -= n;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((n - this.level) * 60_000) / this.capacity) };
  }

  give(n: number): void {
    this.refill();
    this.level = Math.min(this.capacity, this.level + n);
  }

  /** Takes `n` units even past empty: usage beyond a reservation is owed and refills first. */
  charge(n: number): void {
    this.refill();
    this.level -= n;
  }

  available(): number {
    this.refill();
    return this.level;
  }

  /** Milliseconds until the bucket is full again. */
  msUntilFull(): number {
    this.refill();
    return Math.ceil(((this.capacity - this.level) * 60_000) / this.capacity);
  }
}

/** What the `x-ratelimit-*` headers report (OpenAI's names): limit, remaining, time to full reset. */
export interface RateLimitStatus {
  requests: { limit: number; remaining: number; resetMs: number };
  tokens: { limit: number; remaining: number; resetMs: number };
}

interface TenantState {
  requests: MinuteBucket;
  tokens: MinuteBucket;
  streams: number;
}

/**
 * Admission against a tenant's quotas. Tokens are reserved up front (prompt + max_tokens, the most a
 * request can use), and the unused part is handed back when the request settles, fails or is
 * cancelled, so a burst of long-`max_tokens` requests cannot overrun tokens/min.
 */
export class QuotaLedger {
  private readonly states = new Map<string, TenantState>();
  private readonly usage = new Map<string, { requests: number; promptTokens: number; completionTokens: number; rejected: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  private state(tenant: Tenant): TenantState {
    let s = this.states.get(tenant.id);
    if (!s) {
      s = { requests: new MinuteBucket(tenant.quota.requestsPerMinute, this.now), tokens: new MinuteBucket(tenant.quota.tokensPerMinute, this.now), streams: 0 };
      this.states.set(tenant.id, s);
    }
    return s;
  }

  /** Reserves one request, `tokens` tokens and one concurrent stream; throws RESOURCE_EXHAUSTED with a retry time. */
  admit(tenant: Tenant, tokens: number): Reservation {
    const s = this.state(tenant);
    const q = tenant.quota;
    if (tokens > q.tokensPerMinute) {
      this.reject(tenant.id);
      throw new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, `request needs ${tokens} tokens (prompt + max_tokens) but the tenant's limit is ${q.tokensPerMinute} tokens/min`, {
        field: 'max_tokens',
        limit: `tokens_per_minute = ${q.tokensPerMinute}`,
      });
    }
    if (s.streams >= q.concurrentStreams) {
      this.reject(tenant.id);
      throw new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, `too many concurrent requests for this tenant (limit ${q.concurrentStreams})`, {
        field: 'concurrent_streams',
        limit: `concurrent_streams = ${q.concurrentStreams}`,
        retryAfterMs: 1000,
      });
    }
    const r = s.requests.take(1);
    if (!r.ok) {
      this.reject(tenant.id);
      throw new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, `rate limit reached: ${q.requestsPerMinute} requests/min`, {
        field: 'requests_per_minute',
        limit: `requests_per_minute = ${q.requestsPerMinute}`,
        retryAfterMs: r.retryAfterMs,
      });
    }
    const t = s.tokens.take(tokens);
    if (!t.ok) {
      s.requests.give(1);
      this.reject(tenant.id);
      throw new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, `token rate limit reached: ${q.tokensPerMinute} tokens/min`, {
        field: 'tokens_per_minute',
        limit: `tokens_per_minute = ${q.tokensPerMinute}`,
        retryAfterMs: t.retryAfterMs,
      });
    }
    s.streams++;
    return new Reservation(tokens, (unused, used) => {
      s.streams--;
      // The reservation is the decoder's exact prompt count + max_tokens, so this is normally a
      // refund; a grounding turn longer than its allowance is charged, never forgiven.
      if (unused >= 0) s.tokens.give(unused);
      else s.tokens.charge(-unused);
      const u = this.usageOf(tenant.id);
      u.requests++;
      u.promptTokens += used.prompt;
      u.completionTokens += used.completion;
    });
  }

  concurrent(tenantId: string): number {
    return this.states.get(tenantId)?.streams ?? 0;
  }

  rateLimitStatus(tenant: Tenant): RateLimitStatus {
    const s = this.state(tenant);
    return {
      requests: { limit: tenant.quota.requestsPerMinute, remaining: Math.floor(s.requests.available()), resetMs: s.requests.msUntilFull() },
      tokens: { limit: tenant.quota.tokensPerMinute, remaining: Math.floor(s.tokens.available()), resetMs: s.tokens.msUntilFull() },
    };
  }

  tokensAvailable(tenant: Tenant): number {
    return this.state(tenant).tokens.available();
  }

  /** Per-tenant totals, exported as metrics by the gateway. */
  usageSnapshot(): ReadonlyMap<string, { requests: number; promptTokens: number; completionTokens: number; rejected: number }> {
    return this.usage;
  }

  private usageOf(tenantId: string) {
    let u = this.usage.get(tenantId);
    if (!u) {
      u = { requests: 0, promptTokens: 0, completionTokens: 0, rejected: 0 };
      this.usage.set(tenantId, u);
    }
    return u;
  }

  private reject(tenantId: string): void {
    this.usageOf(tenantId).rejected++;
  }
}

/** A held quota; `settle` (real usage) or `release` (nothing used) exactly once. */
export class Reservation {
  private open = true;
  constructor(
    readonly reservedTokens: number,
    /** `unusedTokens` < 0: the request used more than it reserved. */
    private readonly close: (unusedTokens: number, used: { prompt: number; completion: number }) => void,
  ) {}

  settle(used: { prompt: number; completion: number }): void {
    if (!this.open) return;
    this.open = false;
    this.close(this.reservedTokens - used.prompt - used.completion, used);
  }

  release(): void {
    this.settle({ prompt: 0, completion: 0 });
  }
}
