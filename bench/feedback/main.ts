/**
 * Feedback benchmark: durable ingest (acknowledged by JetStream, file storage) and export rows/s.
 * Every ingest number is printed with its ratio to a baseline measured in this run: raw JetStream
 * publishes awaited one at a time (what a naive service would do per event).
 *
 *   npx tsx bench/feedback/main.ts [--events 20000] [--window 64] [--store file|postgres]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { StorageType, connect, nanos, type NatsConnection } from 'nats';
import { feedbackV1 } from '@tessera/contracts';
import { bindNats, natsClient, putPayload } from '@tessera/runtime';
import { startNatsServer } from '@tessera/testing';
import { openFeedback, type FeedbackStack } from '../../services/feedback/src/compose.js';
import { EXPORT_FORMATS } from '../../services/feedback/src/domain/export/formats.js';
import { feedbackService } from '../../services/feedback/src/service.js';
import type { SubmitFeedbackInput } from '../../services/feedback/src/domain/input.js';
import { IMG_A_BYTES, JA_ANSWER, responseInput } from '../../services/feedback/src/test/fixtures.js';
import { natsObjects } from '../../services/feedback/src/adapters/objects.js';
import { testSettings } from '../../services/feedback/src/test/settings.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '20000' }, window: { type: 'string', default: '64' }, store: { type: 'string', default: 'file' } } });
const EVENTS = Number(values.events);
const WINDOW = Number(values.window);

/** Runs `n` calls with at most `window` in flight; returns calls per second. */
async function pipelined(n: number, window: number, call: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(window, n) }, async () => {
      while (next < n) await call(next++);
    }),
  );
  return (n / (performance.now() - t0)) * 1000;
}

function feedbackFor(i: number, prefix: string): SubmitFeedbackInput {
  const base = { feedbackId: `${prefix}-${i}`, responseId: `r-${i % 100}` };
  switch (i % 4) {
    case 0:
      return { ...base, responseId: `r-${i % 50}`, spans: [{ start: 4, end: 5, original: '𩸽', replacement: '鮭', category: i % 8 === 0 ? 'object' : 'count' }] };
    case 1:
      return { ...base, rating: { thumbs: i % 3 === 0 ? 'down' : 'up' } };
    case 2:
      return { ...base, responseId: `r-${i % 50}`, preference: { chosenResponseId: `r-${i % 50}`, rejectedResponseId: `r-${(i % 50) + 50}` } };
    default:
      return { ...base, correction: '𠮷野家で鮭を二匹食べた🍣。' };
  }
}

const fmt = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 });

async function main(): Promise<void> {
  const server = await startNatsServer();
  // noAsyncTraces: nats.js otherwise builds an Error (stack capture) per request — 7% of CPU at 5k acks/s.
  const nc: NatsConnection = await connect({ servers: server.url, noAsyncTraces: true });
  const dir = mkdtempSync(join(tmpdir(), 'feedback-bench-'));
  const store = values.store === 'postgres' ? ({ kind: 'postgres', url: process.env.TESSERA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test', schema: `feedback_bench_${process.pid}`, poolSize: 4 } as const) : ({ kind: 'file', dir, snapshotEvery: 1_000_000, fsync: false } as const);
  const settings = testSettings(store);
  settings.projector.batch = 512;
  // The image store, as the service has it (compose.ts): OpenAI SFT rows carry the prompt image as a data
  // URL read from it (without it that export is FAILED_PRECONDITION, which ended this bench there).
  settings.core.objects = natsObjects(nc);
  let stack: FeedbackStack | undefined;
  try {
    stack = await openFeedback(nc, settings);
    const core = stack.core;
    console.log(`feedback bench: ${fmt(EVENTS)} events, window ${WINDOW}, store ${store.kind}, nats-server ${server.url} (file storage, 1 replica)`);
    // The responses' prompt image, stored as the gateway stores it at admission (per tenant).
    await putPayload(nc, IMG_A_BYTES, { bucket: 'tessera-images', tenant: 'bench' });
    // 100 responses to two prompts (0–49 and 50–99 pair up as preferences).
    for (let i = 0; i < 100; i++) {
      await core.recordResponse('bench', responseInput({ responseId: `r-${i}`, answer: i < 50 ? JA_ANSWER : '牛丼を食べた。', modelRevision: i % 2 ? 'rev-1' : 'rev-2' }));
    }
    await core.settle();

    // Baseline: raw JetStream publishes of the same bytes (no validation, no projector) to a stream
    // with the same settings (file storage, 1 replica, dedupe window), one awaited at a time.
    const js = nc.jetstream();
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'BENCH_RAW', subjects: ['bench.raw.>'], storage: StorageType.File, num_replicas: 1, duplicate_window: nanos(120_000) });
    const body = Buffer.from(JSON.stringify({ v: 1, type: 'feedback', record: feedbackFor(1, 'raw') }));
    const baseN = Math.min(EVENTS, 3000);
    const base = await pipelined(baseN, 1, (i) => js.publish('bench.raw.feedback', body, { msgID: `raw1-${i}` }));
    const rawPipe = await pipelined(EVENTS, WINDOW, (i) => js.publish('bench.raw.feedback', body, { msgID: `rawN-${i}` }));
    await core.settle();

    // The service's domain path: validate → dedupe check → append → PubAck, pipelined.
    const coreRate = await pipelined(EVENTS, WINDOW, (i) => core.submitFeedback('bench', feedbackFor(i, 'core')));
    const tSettle = performance.now();
    await core.settle();
    const settleMs = performance.now() - tSettle;
    const counts = await stack.store.counts('bench');

    // The same through the NATS transport (request/reply via @tessera/runtime), pipelined.
    const binding = await bindNats(nc, feedbackV1.FeedbackServiceService, feedbackService(core), { serviceName: 'feedback' });
    const client = natsClient(nc, feedbackV1.FeedbackServiceService);
    const wireN = Math.min(EVENTS, 5000);
    const wireRate = await pipelined(wireN, WINDOW, (i) =>
      client.submitFeedback({ feedback: { feedbackId: `wire-${i}`, responseId: `r-${i % 100}`, comment: '', correction: '', spans: [], rating: { key: 'overall', value: { $case: 'thumbs', thumbs: feedbackV1.Thumbs.UP } } } }, { tenant: 'bench', timeoutMs: 60_000 }),
    );
    await binding.stop(1_000);

    console.log('\ndurable ingest (acknowledged by the stream)        events/s   vs baseline');
    console.log(`  raw js.publish, one at a time (baseline)      ${fmt(base).padStart(10)}   1.0×`);
    console.log(`  raw js.publish, ${WINDOW} in flight               ${fmt(rawPipe).padStart(10)}   ${(rawPipe / base).toFixed(1)}×`);
    console.log(`  FeedbackCore.submitFeedback, ${WINDOW} in flight  ${fmt(coreRate).padStart(10)}   ${(coreRate / base).toFixed(1)}×   (projector caught up ${settleMs.toFixed(0)} ms after the last ack; store holds ${fmt(counts.feedback)} feedback)`);
    console.log(`  SubmitFeedback over NATS req/reply, ${WINDOW} in flight ${fmt(wireRate).padStart(7)}   ${(wireRate / base).toFixed(1)}×   (${fmt(wireN)} calls)`);

    console.log('\nexport (rows streamed from the store, JSON-serialised)   rows/s   rows');
    for (const format of EXPORT_FORMATS) {
      let rows = 0;
      let bytes = 0;
      const t0 = performance.now();
      for await (const item of core.export('bench', { format, filter: {}, imageMode: 'ref', maxRows: 0 })) {
        if ('row' in item) {
          bytes += JSON.stringify(item.row).length + 1;
          rows++;
        }
      }
      const ms = performance.now() - t0;
      console.log(`  ${format.padEnd(16)} ${fmt((rows / ms) * 1000).padStart(10)}   ${fmt(rows).padStart(7)}   ${(bytes / 1e6).toFixed(1)} MB`);
    }
  } finally {
    if (stack?.store && 'dropSchema' in stack.store) await (stack.store as { dropSchema(): Promise<void> }).dropSchema();
    await stack?.close();
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
