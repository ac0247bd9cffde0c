import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedbackV1 } from '@tessera/contracts';
import { natsClient, type ServiceClient } from '@tessera/runtime';
import { spawnTs, type SpawnedProcess } from '@tessera/testing';
import { withNats } from '@tessera/testing/vitest';
import { JA_ANSWER } from './test/fixtures.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const N = 600;
const WINDOW = 64;

const bus = withNats();
let dir: string;
let svc: SpawnedProcess | undefined;
let client: ServiceClient<typeof feedbackV1.FeedbackServiceService>;

async function startFeedback(): Promise<SpawnedProcess> {
  return spawnTs(MAIN, {
    env: { NATS_URL: bus.server.url, TESSERA_GRPC_PORT: '0', TESSERA_METRICS_PORT: '0', TESSERA_DATA_DIR: dir, TESSERA_FEEDBACK_PROJECTOR_BATCH: '64', TESSERA_LOG_LEVEL: 'warn' },
    readyPattern: /^tessera-ready /,
    readyTimeoutMs: 30_000,
  });
}

const feedback = (i: number): feedbackV1.Feedback => ({
  feedbackId: `fb-${i}`,
  responseId: 'resp_crash',
  comment: `note ${i}`,
  correction: '',
  spans: i % 3 === 0 ? [{ start: 4, end: 5, original: '𩸽', replacement: '鮭', category: 'object', confidence: undefined }] : [],
  rating: i % 3 === 1 ? { key: 'overall', value: { $case: 'thumbs', thumbs: feedbackV1.Thumbs.DOWN } } : undefined,
});

/** Sends ids through a window of WINDOW in-flight calls; returns the ids the service acknowledged. */
async function burst(ids: number[], onAck?: (acked: number) => void): Promise<Set<number>> {
  const acked = new Set<number>();
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const i = ids[next++];
      try {
        await client.submitFeedback({ feedback: feedback(i) }, { tenant: 'crash', timeoutMs: 3_000 });
        acked.add(i);
        onAck?.(acked.size);
      } catch {
        /* not acknowledged: the caller retries it after the restart */
      }
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  return acked;
}

async function listAll(): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = '';
  do {
    const page = await client.listFeedback({ filter: undefined, pageSize: 500, pageToken }, { tenant: 'crash', timeoutMs: 10_000 });
    ids.push(...page.feedback.map((f) => f.feedback!.feedbackId));
    pageToken = page.nextPageToken;
  } while (pageToken);
  return ids;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'feedback-crash-'));
  client = natsClient(bus.nc, feedbackV1.FeedbackServiceService);
}, 60_000);

afterAll(async () => {
  await svc?.terminate().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('feedback process crash recovery', () => {
  it('kill -9 during a burst of N events, restart, retry: exactly N records, no duplicates', async () => {
    svc = await startFeedback();
    await client.recordResponse(
      {
        response: {
          responseId: 'resp_crash', tenant: '', model: 'minicpm-v-2_6', modelRevision: 'rev-1', answer: JA_ANSWER, collection: '', finishReason: 0, sources: [],
          messages: [{ role: 2, content: [{ part: { $case: 'text', text: 'describe' } }] }],
        },
      },
      { tenant: 'crash', timeoutMs: 10_000 },
    );

    // Kill the process (SIGKILL) once a third of the burst is acknowledged, while calls are in flight.
    const victim = svc;
    let killed: Promise<void> | undefined;
    const ids = Array.from({ length: N }, (_, i) => i);
    const first = await burst(ids, (n) => {
      if (n === Math.floor(N / 3) && !killed) killed = victim.kill9();
    });
    await killed;
    expect(first.size).toBeGreaterThanOrEqual(Math.floor(N / 3));
    expect(first.size).toBeLessThan(N);

    // Restart and retry everything not acknowledged (a client cannot know what landed).
    svc = await startFeedback();
    const missing = ids.filter((i) => !first.has(i));
    const second = await burst(missing);
    expect(second.size).toBe(missing.length);

    const stored = await listAll();
    expect(stored.length).toBe(N);
    expect(new Set(stored).size).toBe(N);
    for (const i of first) expect(stored).toContain(`fb-${i}`); // nothing acknowledged was lost

    // The log itself holds each event once (Nats-Msg-Id dedupe): 1 response + N feedback.
    const jsm = await bus.nc.jetstreamManager();
    const info = await jsm.streams.info('TESSERA_FEEDBACK', { subjects_filter: 'tessera.feedback.events.crash.>' });
    expect(info.state.subjects).toEqual({ 'tessera.feedback.events.crash.response': 1, 'tessera.feedback.events.crash.feedback': N });
  });
});
