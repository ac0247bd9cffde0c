import type { FeedbackSettings, StoreSettings } from '../compose.js';
import { DEFAULT_LIMITS } from '../domain/limits.js';

/** Settings for tests: small batches, short waits; the defaults of config.ts otherwise. */
export function testSettings(store: StoreSettings, over: { adminTenants?: string[]; durable?: string; now?: () => number } = {}): FeedbackSettings {
  return {
    log: { stream: 'TESSERA_FEEDBACK', replicas: 1, duplicateWindowMs: 120_000, maxAgeMs: 365 * 86_400_000, maxEventBytes: 1024 * 1024 - 4096, ackTimeoutMs: 5_000 },
    projector: { durable: over.durable ?? 'feedback-projector', batch: 256, ackWaitMs: 30_000 },
    store,
    core: {
      limits: { ...DEFAULT_LIMITS, extraCategories: ['attribute/color'] },
      catchUpMs: 5_000,
      maxExportRows: 1_000_000,
      adminTenants: over.adminTenants ?? ['ops'],
      reviewMeasure: 'span',
      eraseObjects: true,
      now: over.now,
    },
  };
}
