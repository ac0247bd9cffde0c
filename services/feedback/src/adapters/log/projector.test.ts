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
import { contiguousRun, Projector } from './projector.js';

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

  it('a gap in the sequence is re-read before anything past it is applied or acked; a real hole (purged) is then taken', async () => {
    // The same log as above (60 events already in it): a fresh store reads it all from sequence 1.
    const log = await FeedbackLog.open(bus.nc, { stream: 'TESSERA_FEEDBACK', replicas: 1, duplicateWindowMs: 60_000, maxAgeMs: 86_400_000, maxEventBytes: 1 << 20, ackTimeoutMs: 5_000 });
    const gapDir = mkdtempSync(join(tmpdir(), 'feedback-projector-gap-'));
    const store = FileStore.open({ dir: gapDir });
    const seen: number[] = [];
    const apply = store.apply.bind(store);
    store.apply = async (batch: readonly SequencedEvent[], now: number) => {
      seen.push(...batch.map((b) => b.seq));
      return apply(batch, now);
    };
    const now = Date.now();
    let last = 0;
    for (let i = 0; i < 10; i++) last = (await log.append({ v: 1, type: 'response', record: validateResponse('t', { ...responseInput({ responseId: `g${i}` }) }, DEFAULT_LIMITS, now) })).seq;
    // A hole in the log, as a tenant erasure's purge leaves one.
    await (await bus.nc.jetstreamManager()).streams.deleteMessage('TESSERA_FEEDBACK', last - 5);
    const projector = new Projector(bus.nc, store, { stream: 'TESSERA_FEEDBACK', durable: 'p-gap', batch: 4, ackWaitMs: 30_000 });
    await projector.start();
    expect(await projector.waitFor(last, 15_000)).toBe(true);
    await projector.stop();
    expect(seen).toEqual(Array.from({ length: last }, (_, i) => i + 1).filter((q) => q !== last - 5));
    await store.close();
    rmSync(gapDir, { recursive: true, force: true });
  });

  it('contiguousRun: takes the next sequences, drops redeliveries, stops at a gap unless it is the accepted hole', () => {
    const m = (...seqs: number[]) => seqs.map((seq) => ({ seq }));
    expect(contiguousRun(m(4, 5, 6), 3)).toEqual({ taken: m(4, 5, 6) });
    expect(contiguousRun(m(2, 3, 4, 5), 3)).toEqual({ taken: m(4, 5) });
    // 4 was delivered where the projector never saw it: nothing past it is taken.
    expect(contiguousRun(m(5, 6), 3)).toEqual({ taken: [], gapAt: 5 });
    expect(contiguousRun(m(4, 6, 7), 3)).toEqual({ taken: m(4), gapAt: 6 });
    // Re-read from 4 and 6 came first again: the log has no 5, so 6 is taken.
    expect(contiguousRun(m(6, 7), 4, 6)).toEqual({ taken: m(6, 7) });
  });
});
