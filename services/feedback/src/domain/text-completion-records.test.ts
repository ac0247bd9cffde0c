/**
 * Text completions (the gateway's OpenAI `/v1/completions`) are recorded with their raw prompt
 * (ResponseRecord.prompt, no messages) so that feedback on them becomes training data: TRL's formats
 * export them in TRL's standard non-conversational form (plain strings), the chat-only formats skip
 * them. On a real nats-server with the file store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedbackV1 } from '@tessera/contracts';
import { withNats } from '@tessera/testing/vitest';
import { openFeedback, type FeedbackStack } from '../compose.js';
import { natsObjects } from '../adapters/objects.js';
import { responseIn, responseOut } from '../wire.js';
import type { ExportSummary } from './export/exporter.js';
import type { ExportFormat, Row } from './export/formats.js';
import { validateRow } from './export/schemas.js';
import { responseInput } from '../test/fixtures.js';
import { testSettings } from '../test/settings.js';

const bus = withNats();
let stack: FeedbackStack;
let dir: string;
const PROMPT = 'The capital of France is';
const completion = (responseId: string, answer: string) => responseInput({ responseId, answer, messages: [], prompt: PROMPT, sources: [], collection: '', confidence: {}, finishReason: 'FINISH_REASON_STOP' });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'feedback-cmpl-'));
  const settings = testSettings({ kind: 'file', dir, snapshotEvery: 1000, fsync: false });
  settings.core.objects = natsObjects(bus.nc);
  stack = await openFeedback(bus.nc, settings);
  const core = stack.core;
  await core.recordResponse('t1', completion('cmpl-a', ' Paris.'));
  await core.recordResponse('t1', completion('cmpl-b', ' Lyon.'));
  await core.recordResponse('t1', responseInput({ responseId: 'chatcmpl-c', messages: [{ role: 'user', content: [{ text: PROMPT }] }], answer: ' Paris.' }));
  await core.submitFeedback('t1', { feedbackId: 'f-pref', responseId: 'cmpl-a', preference: { chosenResponseId: 'cmpl-a', rejectedResponseId: 'cmpl-b' } });
  await core.submitFeedback('t1', { feedbackId: 'f-fix', responseId: 'cmpl-b', correction: ' Paris, not Lyon.' });
  await core.submitFeedback('t1', { feedbackId: 'f-up', responseId: 'cmpl-a', rating: { thumbs: 'up' } });
  await core.settle();
}, 60_000);

afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function exportOf(format: ExportFormat): Promise<{ rows: Row[]; summary: ExportSummary }> {
  const rows: Row[] = [];
  let summary: ExportSummary | undefined;
  for await (const item of stack.core.export('t1', { format, filter: {}, imageMode: 'ref', maxRows: 0 })) {
    if ('row' in item) rows.push(JSON.parse(JSON.stringify(item.row)) as Row);
    else summary = item.summary;
  }
  return { rows, summary: summary! };
}

describe('text completion records', () => {
  it('are stored with their prompt and no messages; the wire form keeps the prompt', async () => {
    const stored = (await stack.store.getResponse('t1', 'cmpl-a', Date.now()))!;
    expect([stored.prompt, stored.messages, stored.answer]).toEqual([PROMPT, [], ' Paris.']);
    const wire = feedbackV1.ResponseRecord.decode(feedbackV1.ResponseRecord.encode(responseOut(stored)).finish());
    expect(wire.prompt).toBe(PROMPT);
    expect(responseIn(wire).prompt).toBe(PROMPT);
    // A chat record has no prompt field at all (its content hash is what it was before).
    expect('prompt' in (await stack.store.getResponse('t1', 'chatcmpl-c', Date.now()))!).toBe(false);
  });

  it('refuses a record with both a prompt and messages, an empty prompt, and a preference between a completion and a chat', async () => {
    await expect(stack.core.recordResponse('t1', responseInput({ responseId: 'cmpl-x', prompt: PROMPT }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'response.messages' } });
    await expect(stack.core.recordResponse('t1', { ...completion('cmpl-y', 'x'), prompt: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'response.prompt' } });
    // Same text, but one is a raw prompt and the other a chat turn: not the same prompt.
    await expect(stack.core.submitFeedback('t1', { feedbackId: 'f-mixed', responseId: 'cmpl-a', preference: { chosenResponseId: 'cmpl-a', rejectedResponseId: 'chatcmpl-c' } })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });

  it("export in TRL's standard non-conversational form: prompt and answers as plain strings, valid against the published schemas", async () => {
    const dpo = await exportOf('trl-dpo');
    expect(dpo.rows).toEqual([
      { id: 'f-pref', prompt: PROMPT, chosen: ' Paris.', rejected: ' Lyon.', images: [] },
      { id: 'f-fix', prompt: PROMPT, chosen: ' Paris, not Lyon.', rejected: ' Lyon.', images: [] },
    ]);
    expect((await exportOf('sft')).rows).toEqual([{ id: 'f-fix', prompt: PROMPT, completion: ' Paris, not Lyon.', images: [] }]);
    expect((await exportOf('kto')).rows).toEqual([{ id: 'f-up', prompt: PROMPT, completion: ' Paris.', label: true, images: [], rating_key: 'overall' }]);
    expect((await exportOf('spans-sidecar')).rows.map((r) => r.id)).toEqual(['f-pref', 'f-fix']);
    for (const format of ['trl-dpo', 'sft', 'kto', 'spans-sidecar'] as const) for (const r of (await exportOf(format)).rows) expect(validateRow(format, r)).toEqual([]);
  });

  it('the chat-only formats (OpenAI fine-tuning, RLAIF-V) skip them and count them as skipped', async () => {
    for (const format of ['openai-dpo', 'openai-sft', 'rlaif-v'] as const) {
      const { rows, summary } = await exportOf(format);
      expect(rows).toEqual([]);
      expect(summary.skipped).toBeGreaterThan(0);
    }
  });
});
