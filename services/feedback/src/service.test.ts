import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonV1, feedbackV1 } from '@tessera/contracts';
import { TesseraError, bindNats, natsClient, type NatsBinding, type ServiceClient } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import { openFeedback, type FeedbackStack } from './compose.js';
import { validateRow } from './domain/export/schemas.js';
import { feedbackService } from './service.js';
import { IMG_A, JA_ANSWER } from './test/fixtures.js';
import { testSettings } from './test/settings.js';

const bus = withNats();
let dir: string;
let stack: FeedbackStack;
let binding: NatsBinding;
let client: ServiceClient<typeof feedbackV1.FeedbackServiceService>;
const as = (tenant: string) => ({ tenant, timeoutMs: 10_000 });

const record = (responseId: string, answer: string): feedbackV1.ResponseRecord => ({
  responseId,
  tenant: 'ignored-on-input',
  model: 'minicpm-v-2_6',
  modelRevision: 'rev-1',
  messages: [{ role: commonV1.Role.USER, content: [{ part: { $case: 'image', image: { bucket: 'tessera-images', key: IMG_A, size: 7, contentType: 'image/png' } } }, { part: { $case: 'text', text: '何が見えますか？' } }] }],
  sources: [],
  sampling: { temperature: 0.7, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, seed: 1234, stop: [], stopTokenIds: [], logprobs: true, topLogprobs: 0, maxTokens: 64 } as commonV1.SamplingParams,
  answer,
  finishReason: commonV1.FinishReason.STOP,
  usage: { promptTokens: 80, visualTokens: 64, completionTokens: 12, totalTokens: 92 },
  confidence: { tokenCount: 12, meanLogprob: -0.8, minLogprob: -3, lowConfidenceTokens: 1, spans: [{ start: 4, end: 5, meanLogprob: -3 }] },
  collection: '',
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'feedback-svc-'));
  stack = await openFeedback(bus.nc, testSettings({ kind: 'file', dir, snapshotEvery: 1000, fsync: false }));
  binding = await bindNats(bus.nc, feedbackV1.FeedbackServiceService, feedbackService(stack.core), { serviceName: 'feedback' });
  client = natsClient(bus.nc, feedbackV1.FeedbackServiceService);
}, 60_000);

afterAll(async () => {
  await binding?.stop(1_000);
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('FeedbackService over NATS request/reply', () => {
  it('round-trips a response record and span feedback through the contract types', async () => {
    expect(await client.recordResponse({ response: record('resp_w1', JA_ANSWER) }, as('w'))).toEqual({ responseId: 'resp_w1', created: true });
    expect(await client.recordResponse({ response: record('resp_w1', JA_ANSWER) }, as('w'))).toEqual({ responseId: 'resp_w1', created: false });
    const sub = await client.submitFeedback(
      { feedback: { feedbackId: 'wf1', responseId: 'resp_w1', comment: '', correction: '', spans: [{ start: 4, end: 5, original: '𩸽', replacement: '鮭', category: 'object', annotator: { id: 'a1', source: feedbackV1.FeedbackSource.HUMAN } }], rating: { key: 'overall', value: { $case: 'score', score: 0.2 } }, metadata: { ui: 'v2' } } },
      as('w'),
    );
    expect(sub.duplicate).toBe(false);
    expect(sub.record!.correctedAnswer).toBe('𠮷野家で鮭を三匹食べた🍣。皿は青い。');
    expect(sub.record!.tenant).toBe('w');
    const got = await client.getResponse({ responseId: 'resp_w1' }, as('w'));
    expect(got.response!.tenant).toBe('w');
    expect(got.response!.sampling!.seed).toBe(1234);
    expect(got.response!.finishReason).toBe(commonV1.FinishReason.STOP);
    expect(got.response!.messages[0].content[0].part).toEqual({ $case: 'image', image: { bucket: 'tessera-images', key: IMG_A, size: 7, contentType: 'image/png' } });
    expect(got.feedback.map((f) => [f.feedback!.feedbackId, f.feedback!.spans[0].category, f.feedback!.rating!.value, f.feedback!.metadata])).toEqual([['wf1', 'object', { $case: 'score', score: 0.2 }, { ui: 'v2' }]]);
  });

  it('maps domain errors to wire statuses with the field', async () => {
    const err = await client.submitFeedback({ feedback: { feedbackId: 'wf2', responseId: 'resp_w1', comment: '', correction: '', spans: [{ start: 4, end: 40, original: '', replacement: 'x', category: 'object' }] } }, as('w')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe('INVALID_ARGUMENT');
    expect((err as TesseraError).details.field).toBe('feedback.spans[0].end');
    const other = await client.getResponse({ responseId: 'resp_w1' }, as('intruder')).catch((e: unknown) => e);
    expect((other as TesseraError).code).toBe('NOT_FOUND');
  });

  it('streams an export with a closing summary, and serves the review queue and erasure', async () => {
    const rows: string[] = [];
    let summary: feedbackV1.ExportSummary | undefined;
    for await (const m of client.export({ format: feedbackV1.ExportFormat.KTO, imageMode: feedbackV1.ImageMode.UNSPECIFIED, maxRows: 0 }, as('w'))) {
      if (m.item?.$case === 'row') rows.push(m.item.row);
      else if (m.item?.$case === 'summary') summary = m.item.summary;
    }
    expect(rows).toHaveLength(1);
    const kto = JSON.parse(rows[0]);
    expect(validateRow('kto', kto)).toEqual([]);
    expect(kto.label).toBe(false);
    expect(summary).toEqual({ rows: 1, skipped: 0, droppedByBalance: 0, imagesDropped: 0, rowsMissingImages: 0, missingImageRows: [] });
    const unspecified = await (async () => {
      for await (const _ of client.export({ format: feedbackV1.ExportFormat.UNSPECIFIED, imageMode: 0, maxRows: 0 }, as('w')));
    })().catch((e: unknown) => e);
    expect((unspecified as TesseraError).details.field).toBe('format');

    await client.recordResponse({ response: record('resp_w2', '別の答えです。') }, as('w'));
    const q = await client.reviewQueue({ reasons: [], models: [], pageSize: 10, pageToken: '' }, as('w'));
    expect(q.items.map((i) => [i.response!.responseId, i.reasons])).toEqual([['resp_w2', [feedbackV1.ReviewReason.LOW_CONFIDENCE]]]);

    expect(await client.eraseTenant({ tenant: 'w', confirm: 'w' }, as('w'))).toEqual({ responsesDeleted: 2, feedbackDeleted: 1, imagesDeleted: 0 });
    expect(((await client.getResponse({ responseId: 'resp_w1' }, as('w')).catch((e: unknown) => e)) as TesseraError).code).toBe('NOT_FOUND');
  });
});
