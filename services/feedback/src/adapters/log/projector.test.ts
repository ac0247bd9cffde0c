import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withNats } from '@tessera/testing/vitest';
import type { SequencedEvent } from '../../domain/events.js';
import { DEFAULT_LIMITS } from '../../domain/limits.js';
import { validateResponse } from '../../domain/validate-response.js';
import { FileStore } from '../store/file-store.js';
import { responseInput } from '../../test/fixtures.js';
import { FeedbackLog } from './feedback-log.js';
import { Projector } from './projector.js';

const bus = withNats();
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'feedback-projector-'));
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

describe('Projector', () => {
  it('resumes after a failed store write without skipping or repeating events', async () => {
    const log = await FeedbackLog.open(bus.nc, { stream: 'TESSERA_FEEDBACK', replicas: 1, duplicateWindowMs: 60_000, maxAgeMs: 86_400_000, maxEventBytes: 1 << 20, ackTimeoutMs: 5_000 });
    const store = FileStore.open({ dir });
    // The store fails its second batch once (a disk or database hiccup).
    let calls = 0;
    const apply = store.apply.bind(store);
    const seen: number[] = [];
    store.apply = async (batch: readonly SequencedEvent[], now: number) => {
      if (++calls === 2) throw new Error('injected write failure');
      seen.push(...batch.map((b) => b.seq));
      return apply(batch, now);
    };
    const errors: unknown[] = [];
    const projector = new Projector(bus.nc, store, { stream: 'TESSERA_FEEDBACK', durable: 'p-test', batch: 8, ackWaitMs: 30_000, onError: (e) => errors.push(e) });
    await projector.start();
    const now = Date.now();
    let last = 0;
    for (let i = 0; i < 60; i++) {
      const record = validateResponse('t', { ...responseInput({ responseId: `r${i}` }) }, DEFAULT_LIMITS, now);
      last = (await log.append({ v: 1, type: 'response', record })).seq;
    }
    expect(await projector.waitFor(last, 15_000)).toBe(true);
    await projector.stop();
    expect(errors.map(String)).toContain('Error: injected write failure');
    expect(await store.counts('t')).toEqual({ responses: 60, feedback: 0 });
    // Every sequence reached a successful write exactly once and in order.
    expect(seen).toHaveLength(60);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size).toBe(60);
    await store.close();
  });
});
