import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withPostgres } from '@tessera/testing/vitest';
import type { SequencedEvent } from '../../domain/events.js';
import { DEFAULT_LIMITS } from '../../domain/limits.js';
import { Taxonomy } from '../../domain/taxonomy.js';
import type { FeedbackRecord, ResponseRecord } from '../../domain/types.js';
import { validateFeedback, validateFeedbackHead } from '../../domain/validate-feedback.js';
import { validateResponse } from '../../domain/validate-response.js';
import { responseInput } from '../../test/fixtures.js';
import { FileStore } from './file-store.js';
import { PgStore } from './pg-store.js';
import type { FeedbackStore } from '../../domain/store.js';

const T0 = 1_700_000_000_000;
const limits = { ...DEFAULT_LIMITS, retentionByTenant: { short: 60_000 } };
let dir: string;

const resp = (tenant: string, id: string): ResponseRecord => validateResponse(tenant, responseInput({ responseId: id }), limits, T0);
function fb(r: ResponseRecord, id: string): FeedbackRecord {
  const input = { feedbackId: id, responseId: r.responseId, comment: `c ${id}` };
  return validateFeedback(validateFeedbackHead(r.tenant, input, limits), input, { responses: new Map([[r.responseId, r]]), limits, taxonomy: new Taxonomy(), now: T0 });
}
const ev = (seq: number, e: SequencedEvent['event']): SequencedEvent => ({ seq, event: e });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'feedback-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

// A real PostgreSQL of this suite's own (initdb template + pg_ctl on a free port), never skipped;
// TESSERA_TEST_PG_URL points the suite at an existing server instead.
const pg = withPostgres();

/** The projection rules every store must follow, run against both implementations. */
const stores: [string, () => Promise<FeedbackStore & { dispose(): Promise<void> }>][] = [
  ['FileStore', async () => Object.assign(FileStore.open({ dir }), { dispose: async () => undefined })],
  [
    'PgStore',
    async () => {
      const s = await PgStore.open({ url: pg.url, schema: `feedback_store_test_${process.pid}`, poolSize: 2 });
      return Object.assign(s, { dispose: () => s.dropSchema() });
    },
  ],
];

for (const [name, open] of stores) {
  describe(`${name} projection rules`, () => {
    it('applies each sequence once, inserts ids once, drops feedback on unknown responses', async () => {
      const s = await open();
      try {
        const a = resp('t1', 'A');
        await s.apply([ev(1, { v: 1, type: 'response', record: a }), ev(2, { v: 1, type: 'feedback', record: fb(a, 'f1') })], T0);
        // A redelivered batch and a later duplicate of the same ids change nothing.
        await s.apply([ev(1, { v: 1, type: 'response', record: a }), ev(2, { v: 1, type: 'feedback', record: fb(a, 'f1') }), ev(3, { v: 1, type: 'feedback', record: fb(a, 'f1') })], T0);
        await s.apply([ev(4, { v: 1, type: 'feedback', record: fb(resp('t1', 'missing'), 'f2') })], T0);
        expect(await s.counts('t1')).toEqual({ responses: 1, feedback: 1 });
        expect(await s.lastSeq()).toBe(4);
        expect((await s.getFeedback('t1', 'f1'))!.seq).toBe(2);
        expect(await s.counts('t2')).toEqual({ responses: 0, feedback: 0 });
      } finally {
        await s.dispose();
        await s.close();
      }
    });

    it('drops responses past their retention, with their feedback', async () => {
      const s = await open();
      try {
        const keep = resp('t1', 'A');
        const brief = resp('short', 'B'); // 1 minute retention for tenant "short"
        expect(brief.expiresAt).toBe(T0 + 60_000);
        await s.apply([ev(1, { v: 1, type: 'response', record: keep }), ev(2, { v: 1, type: 'response', record: brief }), ev(3, { v: 1, type: 'feedback', record: fb(brief, 'f') })], T0);
        expect(await s.getResponse('short', 'B', T0 + 59_999)).toBeDefined();
        expect(await s.getResponse('short', 'B', T0 + 60_000)).toBeUndefined();
        expect(await s.sweepExpired(T0 + 60_000)).toBe(1);
        expect(await s.counts('short')).toEqual({ responses: 0, feedback: 0 });
        expect(await s.counts('t1')).toEqual({ responses: 1, feedback: 0 });
        // An event that arrives already expired (a replay long after) is not stored.
        await s.apply([ev(4, { v: 1, type: 'response', record: resp('short', 'C') })], T0 + 120_000);
        expect(await s.counts('short')).toEqual({ responses: 0, feedback: 0 });
      } finally {
        await s.dispose();
        await s.close();
      }
    });
  });
}

describe('FileStore files', () => {
  it('recovers from a torn last line (kill -9 mid-write) and from snapshot + log', async () => {
    const s = FileStore.open({ dir, snapshotEvery: 3 });
    const a = resp('t1', 'A');
    await s.apply([ev(1, { v: 1, type: 'response', record: a }), ev(2, { v: 1, type: 'feedback', record: fb(a, 'f1') }), ev(3, { v: 1, type: 'feedback', record: fb(a, 'f2') })], T0);
    expect(s.logBytes()).toBe(0); // compacted into snapshot.json
    await s.apply([ev(4, { v: 1, type: 'feedback', record: fb(a, 'f3') })], T0);
    await s.close();
    appendFileSync(join(dir, 'log.jsonl'), '{"seq":5,"e":{"v":1,"type":"feedb');
    const r = FileStore.open({ dir });
    expect(await r.lastSeq()).toBe(4);
    expect(await r.counts('t1')).toEqual({ responses: 1, feedback: 3 });
    expect(readFileSync(join(dir, 'log.jsonl'), 'utf8').endsWith('\n')).toBe(true);
    await r.close();
  });
});
