import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deletePayload, getPayload, putPayload, TesseraError } from '@tessera/runtime';
import { withNats, withPostgres } from '@tessera/testing/vitest';
import { openFeedback, type FeedbackStack } from '../compose.js';
import type { ExportItem, ExportSummary } from './export/exporter.js';
import { EXPORT_FORMATS, type ExportFormat, type Row } from './export/formats.js';
import { validateRow } from './export/schemas.js';
import { FileStore } from '../adapters/store/file-store.js';
import { natsObjects } from '../adapters/objects.js';
import { PgStore } from '../adapters/store/pg-store.js';
import { IMG_A, IMG_A_BYTES, IMG_B, IMG_B_BYTES, JA_ANSWER, ZH_ANSWER, responseInput } from '../test/fixtures.js';
import { testSettings } from '../test/settings.js';

/** PostgreSQL part: a server of this suite's own (TESSERA_TEST_PG_URL = use an existing one instead). */
const pg = withPostgres();

for (const kind of ['file', 'postgres'] as const) {
  describe(`feedback core on a real nats-server and the ${kind} store`, () => {
    const bus = withNats();
    let stack: FeedbackStack;
    let dir: string;
    const schema = `feedback_test_${process.pid}_${Date.now() % 1e6}`;

    async function rejects(p: Promise<unknown>): Promise<TesseraError> {
      try {
        await p;
      } catch (err) {
        expect(err).toBeInstanceOf(TesseraError);
        return err as TesseraError;
      }
      throw new Error('expected a TesseraError');
    }

    async function collect(it: AsyncIterable<ExportItem>): Promise<{ rows: Row[]; summary: ExportSummary }> {
      const rows: Row[] = [];
      let summary;
      for await (const item of it) {
        if ('row' in item) rows.push(JSON.parse(JSON.stringify(item.row)) as Row); // round trip as a JSONL line
        else summary = item.summary;
      }
      return { rows, summary: summary! };
    }

    // AI suggestions are excluded by default; most checks here want every row, so they opt in.
    const exportOf = (tenant: string, format: ExportFormat, filter = {}, extra = {}) => collect(stack.core.export(tenant, { format, filter: { includeAi: true, ...filter }, imageMode: 'ref', maxRows: 0, ...extra }));

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'feedback-core-'));
      const settings = testSettings(kind === 'file' ? { kind: 'file', dir, snapshotEvery: 1000, fsync: false } : { kind: 'postgres', url: pg.url, schema, poolSize: 4 });
      settings.core.objects = natsObjects(bus.nc);
      stack = await openFeedback(bus.nc, settings);
      // The prompt images exist in the image store, per tenant (t1 has A and B, t2 its own copy of A).
      await putPayload(bus.nc, IMG_A_BYTES, { bucket: 'tessera-images', tenant: 't1' });
      await putPayload(bus.nc, IMG_B_BYTES, { bucket: 'tessera-images', tenant: 't1' });
      await putPayload(bus.nc, IMG_A_BYTES, { bucket: 'tessera-images', tenant: 't2' });
      const core = stack.core;
      // t1: A and B answer the same prompt, C another prompt (other image); t2 has its own A.
      await core.recordResponse('t1', responseInput({ responseId: 'A', answer: JA_ANSWER }));
      await core.recordResponse('t1', responseInput({ responseId: 'B', answer: '牛丼を食べた。', modelRevision: 'rev-2', confidence: { tokenCount: 5, meanLogprob: -2, minLogprob: -4, lowConfidenceTokens: 3 } }));
      await core.recordResponse('t1', responseInput({ responseId: 'C', answer: ZH_ANSWER, messages: [{ role: 'user', content: [{ image: { bucket: 'tessera-images', key: IMG_B, size: IMG_B_BYTES.length, contentType: 'image/jpeg' } }, { text: '图里有什么？' }] }] }));
      await core.recordResponse('t2', responseInput({ responseId: 'A', answer: 't2 answer' }));
    }, 60_000);

    afterAll(async () => {
      if (stack?.store instanceof PgStore) await stack.store.dropSchema();
      await stack?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    describe('behaviour', () => {
      it('records feedback of every kind and is idempotent on feedback_id', async () => {
        const core = stack.core;
        const fish = Array.from(JA_ANSWER).indexOf('𩸽');
        const blue = Array.from(JA_ANSWER).indexOf('青');
        const spans = await core.submitFeedback('t1', {
          feedbackId: 'f-spans', responseId: 'A', annotator: { id: 'ann-1', source: 'human' },
          spans: [{ start: fish, end: fish + 1, original: '𩸽', replacement: '鮭', category: 'object' }, { start: blue, end: blue + 1, replacement: '赤', category: 'attribute/color' }],
        });
        expect(spans.duplicate).toBe(false);
        expect(spans.record.correction).toBe('𠮷野家で鮭を三匹食べた🍣。皿は赤い。');
        await core.submitFeedback('t1', { feedbackId: 'f-pref', responseId: 'A', preference: { chosenResponseId: 'A', rejectedResponseId: 'B' } });
        await core.submitFeedback('t1', { feedbackId: 'f-down', responseId: 'B', rating: { thumbs: 'down' } });
        await core.submitFeedback('t1', { feedbackId: 'f-up', responseId: 'A', rating: { key: 'helpfulness', score: 0.75 } });
        await core.submitFeedback('t1', { feedbackId: 'f-fix', responseId: 'C', correction: '图中有两个苹果。', annotator: { id: 'judge-1', source: 'ai' } });
        await core.submitFeedback('t1', { feedbackId: 'f-ai', responseId: 'C', annotator: { id: 'judge-1', source: 'ai' }, spans: [{ start: 0, end: 1, replacement: '画', category: 'text-in-image' }] });
        await core.submitFeedback('t1', { feedbackId: 'f-note', responseId: 'C', comment: 'looks fine' });
        await core.submitFeedback('t2', { feedbackId: 'f-t2', responseId: 'A', correction: 't2 fixed' });

        const again = await core.submitFeedback('t1', { feedbackId: 'f-down', responseId: 'B', rating: { thumbs: 'down' } });
        expect(again.duplicate).toBe(true);
        const clash = await rejects(core.submitFeedback('t1', { feedbackId: 'f-down', responseId: 'B', rating: { thumbs: 'up' } }));
        expect(clash.code).toBe('ALREADY_EXISTS');
        expect((await core.recordResponse('t1', responseInput({ responseId: 'A', answer: JA_ANSWER }))).created).toBe(false);
        expect((await rejects(core.recordResponse('t1', responseInput({ responseId: 'A', answer: 'other' })))).code).toBe('ALREADY_EXISTS');
        await core.settle();
        expect(await stack.store.counts('t1')).toEqual({ responses: 3, feedback: 7 });
      });

      it('rejects bad input with a clear TesseraError and stores nothing', async () => {
        const core = stack.core;
        const seqBefore = await stack.log.lastSeq();
        const cases: [() => Promise<unknown>, string, string | undefined][] = [
          [() => core.submitFeedback('t1', { feedbackId: 'x1', responseId: 'nope', comment: 'hi' }), 'NOT_FOUND', 'feedback.response_id'],
          [() => core.submitFeedback('t2', { feedbackId: 'x2', responseId: 'B', comment: 'not mine' }), 'NOT_FOUND', 'feedback.response_id'],
          [() => core.submitFeedback('t1', { feedbackId: 'x3', responseId: 'A', spans: [{ start: 0, end: 99, replacement: 'x', category: 'object' }] }), 'INVALID_ARGUMENT', 'feedback.spans[0].end'],
          [() => core.submitFeedback('t1', { feedbackId: 'x4', responseId: 'A', spans: [{ start: 0, end: 3, replacement: 'x', category: 'object' }, { start: 2, end: 4, replacement: 'y', category: 'object' }] }), 'INVALID_ARGUMENT', 'feedback.spans[1]'],
          [() => core.submitFeedback('t1', { feedbackId: 'x5', responseId: 'A', spans: [{ start: 0, end: 1, replacement: 'x', category: 'smell' }] }), 'INVALID_ARGUMENT', 'feedback.spans[0].category'],
          [() => core.submitFeedback('t1', { feedbackId: 'x6', responseId: 'A', rating: { score: -0.1 } }), 'INVALID_ARGUMENT', 'feedback.rating.score'],
          [() => core.submitFeedback('t1', { feedbackId: 'x7', responseId: 'A', preference: { chosenResponseId: 'A', rejectedResponseId: 'C' } }), 'FAILED_PRECONDITION', 'feedback.preference'],
          [() => core.submitFeedback('t1', { feedbackId: 'x8', responseId: 'A', preference: { chosenResponseId: 'A', rejectedResponseId: 'Z' } }), 'NOT_FOUND', 'feedback.preference'],
          [() => core.recordResponse('t1', responseInput({ responseId: 'bad id!' })), 'INVALID_ARGUMENT', 'response.response_id'],
        ];
        for (const [p, code, field] of cases) {
          const err = await rejects(p());
          expect([err.code, err.details.field]).toEqual([code, field]);
        }
        expect(await stack.log.lastSeq()).toBe(seqBefore);
        expect(await stack.store.counts('t1')).toEqual({ responses: 3, feedback: 7 });
      });

      it('exports every format valid against its schema, with the expected content', async () => {
        const counts: Record<string, number> = {};
        for (const format of EXPORT_FORMATS) {
          const { rows, summary } = await exportOf('t1', format);
          for (const r of rows) expect(validateRow(format, r), `${format}: ${JSON.stringify(r).slice(0, 200)}`).toEqual([]);
          counts[format] = rows.length;
          expect(summary.rows).toBe(rows.length);
        }
        // pairs: f-spans (span correction), f-pref (preference), f-fix (correction), f-ai (span correction)
        expect(counts).toEqual({ 'trl-dpo': 4, 'openai-dpo': 4, 'rlaif-v': 4, 'spans-sidecar': 4, sft: 3, kto: 2, 'openai-sft': 3 });

        const trl = (await exportOf('t1', 'trl-dpo')).rows;
        const byId = new Map(trl.map((r) => [r.id as string, r]));
        const pref = byId.get('f-pref')!;
        expect(pref.chosen).toEqual([{ role: 'assistant', content: [{ type: 'text', text: JA_ANSWER }] }]);
        expect(pref.rejected).toEqual([{ role: 'assistant', content: [{ type: 'text', text: '牛丼を食べた。' }] }]);
        expect(pref.images).toEqual([`tessera://tessera-images/${IMG_A}`]);
        expect((pref.prompt as Row[])[0]).toEqual({ role: 'user', content: [{ type: 'image' }, { type: 'text', text: '写真を説明してください。' }] });

        // OpenAI DPO is text-only (their guide): the image parts are dropped and counted.
        const oaExport = await exportOf('t1', 'openai-dpo');
        const oa = oaExport.rows[0] as { input: { messages: { content: string }[] }; preferred_output: { content: string }[] };
        expect(oa.input.messages[0].content).toBe('写真を説明してください。');
        expect(oaExport.summary.imagesDropped).toBe(4);
        // OpenAI SFT carries the images as data URLs, whatever the image mode.
        const sft = (await exportOf('t1', 'openai-sft')).rows[0] as { messages: { role: string; content: string | { type: string; image_url?: { url: string } }[] }[] };
        expect((sft.messages[0].content as { image_url?: { url: string } }[])[0].image_url?.url).toBe(`data:image/png;base64,${Buffer.from(IMG_A_BYTES).toString('base64')}`);
        expect(sft.messages.at(-1)).toEqual({ role: 'assistant', content: '𠮷野家で鮭を三匹食べた🍣。皿は赤い。' });

        const rl = (await exportOf('t1', 'rlaif-v')).rows.find((r) => r.id === 'f-fix')!;
        expect(rl).toMatchObject({ question: '图里有什么？', chosen: '图中有两个苹果。', rejected: ZH_ANSWER, image_path: `tessera://tessera-images/${IMG_B}`, ds_name: 'tessera/t1' });

        const kto = (await exportOf('t1', 'kto')).rows;
        expect(kto.map((r) => [r.id, r.label])).toEqual([['f-down', false], ['f-up', true]]);

        // The sidecar lines up with the pair export by position and id; offsets hold in all three units.
        const side = (await exportOf('t1', 'spans-sidecar')).rows;
        expect(side.map((r) => r.id)).toEqual(trl.map((r) => r.id));
        const s = side.find((r) => r.id === 'f-spans') as { spans: { category: string; rejected: { start: number; end: number; utf16: number[]; utf8: number[]; text: string }; chosen: { start: number; end: number; text: string } }[] };
        const fish = s.spans[0];
        expect(fish.category).toBe('object');
        expect(fish.rejected.text).toBe('𩸽');
        expect(Array.from(JA_ANSWER).slice(fish.rejected.start, fish.rejected.end).join('')).toBe('𩸽');
        expect(JA_ANSWER.slice(fish.rejected.utf16[0], fish.rejected.utf16[1])).toBe('𩸽');
        expect(Buffer.from(JA_ANSWER).subarray(fish.rejected.utf8[0], fish.rejected.utf8[1]).toString()).toBe('𩸽');
        const chosenText = (byId.get('f-spans')!.chosen as { content: { text: string }[] }[])[0].content[0].text;
        expect(Array.from(chosenText).slice(fish.chosen.start, fish.chosen.end).join('')).toBe('鮭');
        expect(s.spans[1]).toMatchObject({ category: 'attribute/color', rejected: { text: '青' }, chosen: { text: '赤' } });
      });

      it('filters exports by time, model and category, and balances across categories', async () => {
        expect((await exportOf('t1', 'trl-dpo', { categories: ['attribute'] })).rows.map((r) => r.id)).toEqual(['f-spans']);
        expect((await exportOf('t1', 'trl-dpo', { categories: ['text_in_image'] })).rows.map((r) => r.id)).toEqual(['f-ai']);
        expect((await exportOf('t1', 'kto', { models: ['rev-2'] })).rows.map((r) => r.id)).toEqual(['f-down']);
        expect((await exportOf('t1', 'trl-dpo', { source: 'ai' })).rows.map((r) => r.id)).toEqual(['f-fix', 'f-ai']);
        // By default an export holds human feedback only; AI suggestions need include_ai (or source AI).
        expect((await collect(stack.core.export('t1', { format: 'trl-dpo', filter: {}, imageMode: 'ref', maxRows: 0 }))).rows.map((r) => r.id)).toEqual(['f-spans', 'f-pref']);
        expect((await exportOf('t1', 'trl-dpo', { source: 'human' })).rows.map((r) => r.id)).toEqual(['f-spans', 'f-pref']);
        // By rating criterion.
        expect((await exportOf('t1', 'kto', { criteria: ['helpfulness'] })).rows.map((r) => r.id)).toEqual(['f-up']);
        // ListFeedback applies the same filter (it used to ignore criteria).
        expect((await stack.core.listFeedback('t1', { criteria: ['helpfulness'] }, 50, '')).feedback.map((f) => f.feedbackId)).toEqual(['f-up']);
        expect((await stack.core.listFeedback('t1', { categories: ['attribute'] }, 50, '')).feedback.map((f) => f.feedbackId)).toEqual(['f-spans']);
        expect((await exportOf('t1', 'trl-dpo', { from: Date.now() + 60_000 })).rows).toEqual([]);
        expect((await exportOf('t1', 'trl-dpo', { to: Date.now() + 60_000 })).rows).toHaveLength(4);
        // groups: none (f-pref, f-fix), object (f-spans), text_in_image (f-ai) → at most 1 each
        const bal = await exportOf('t1', 'trl-dpo', {}, { balance: { maxRowsPerCategory: 1, maxLabelRatio: 0, seed: 7 } });
        expect(bal.rows).toHaveLength(3);
        expect(bal.summary.droppedByBalance).toBe(1);
        const again = await exportOf('t1', 'trl-dpo', {}, { balance: { maxRowsPerCategory: 1, maxLabelRatio: 0, seed: 7 } });
        expect(again.rows.map((r) => r.id)).toEqual(bal.rows.map((r) => r.id)); // deterministic by seed
        expect((await exportOf('t1', 'trl-dpo', {}, { maxRows: 2 })).rows).toHaveLength(2);
      });

      it('inlines images as data URLs when asked', async () => {
        const { rows } = await exportOf('t1', 'trl-dpo', {}, { imageMode: 'inline' });
        const pref = rows.find((r) => r.id === 'f-pref')!;
        expect(pref.images).toEqual([`data:image/png;base64,${Buffer.from(IMG_A_BYTES).toString('base64')}`]);
        const rl = (await exportOf('t1', 'rlaif-v', {}, { imageMode: 'inline' })).rows.find((r) => r.id === 'f-fix')!;
        expect(rl.image).toEqual({ bytes: Buffer.from(IMG_B_BYTES).toString('base64'), path: `tessera://tessera-images/${IMG_B}` });
        expect(validateRow('rlaif-v', rl)).toEqual([]);
      });

      it('skips rows whose image is gone or not the tenant\'s own, counts them and names them', async () => {
        const core = stack.core;
        await putPayload(bus.nc, IMG_A_BYTES, { bucket: 'tessera-images', tenant: 't3' });
        await core.recordResponse('t3', responseInput({ responseId: 'own' }));
        // t3's second response refers to an image only t1 stored: in t3's scope that reference is NOT_FOUND.
        await core.recordResponse('t3', responseInput({ responseId: 'foreign', messages: [{ role: 'user', content: [{ image: { bucket: 'tessera-images', key: IMG_B, size: IMG_B_BYTES.length, contentType: 'image/jpeg' } }, { text: 'whose?' }] }] }));
        await core.submitFeedback('t3', { feedbackId: 'f-own', responseId: 'own', correction: 'fixed' });
        await core.submitFeedback('t3', { feedbackId: 'f-foreign', responseId: 'foreign', correction: 'mine' });
        const out = await exportOf('t3', 'trl-dpo', {}, { imageMode: 'inline' });
        expect(out.rows.map((r) => r.id)).toEqual(['f-own']);
        expect(out.summary).toMatchObject({ rows: 1, rowsMissingImages: 1, missingImageRows: ['f-foreign'] });
        // An erased (or expired) image: the row is left out, the export goes on and says which.
        await deletePayload(bus.nc, { bucket: 'tessera-images', key: IMG_A }, { tenant: 't3' });
        const gone = await exportOf('t3', 'openai-sft');
        expect(gone.rows).toEqual([]);
        expect(gone.summary).toMatchObject({ rowsMissingImages: 2, missingImageRows: ['f-own', 'f-foreign'] });
        // In REF mode nothing is read, so nothing is missing.
        expect((await exportOf('t3', 'trl-dpo')).summary.rowsMissingImages).toBe(0);
      });

      it('ranks the review queue by uncertainty and category balance', async () => {
        const q = await stack.core.reviewQueue('t1', { pageSize: 10, pageToken: '' });
        // A was corrected by a human (done). C was corrected only by the AI judge: flagged, in bucket text_in_image.
        // B: thumbs down + low confidence, unlabeled.
        expect(q.items.map((i) => [i.response.responseId, i.bucket, i.reasons])).toEqual([
          ['C', 'text_in_image', ['low_confidence', 'ai_flagged']],
          ['B', 'unlabeled', ['low_confidence', 'thumbs_down']],
        ]);
        const p1 = await stack.core.reviewQueue('t1', { pageSize: 1, pageToken: '' });
        const p2 = await stack.core.reviewQueue('t1', { pageSize: 1, pageToken: p1.nextPageToken });
        expect([p1.items[0].response.responseId, p2.items[0].response.responseId, p2.nextPageToken]).toEqual(['C', 'B', '']);
      });

      it('isolates tenants on every read', async () => {
        expect((await exportOf('t2', 'sft')).rows.map((r) => r.id)).toEqual(['f-t2']);
        expect((await exportOf('t2', 'trl-dpo')).rows.every((r) => r.id === 'f-t2')).toBe(true);
        expect((await rejects(stack.core.getResponse('t2', 'B'))).code).toBe('NOT_FOUND');
        expect((await stack.core.getResponse('t2', 'A')).response.answer).toBe('t2 answer');
        expect((await rejects(collect(stack.core.export('t2', { format: 'sft', filter: { tenants: ['t1'] }, imageMode: 'ref', maxRows: 0 })))).code).toBe('PERMISSION_DENIED');
        expect((await rejects(stack.core.listFeedback('t2', { tenants: ['t1'] }, 10, ''))).code).toBe('PERMISSION_DENIED');
        const own = await stack.core.listFeedback('t1', {}, 5, '');
        expect(own.feedback.every((f) => f.tenant === 't1')).toBe(true);
        const rest = await stack.core.listFeedback('t1', {}, 5, own.nextPageToken);
        expect([...own.feedback, ...rest.feedback].map((f) => f.feedbackId)).toEqual(['f-note', 'f-ai', 'f-fix', 'f-up', 'f-down', 'f-pref', 'f-spans']);
        const admin = await stack.core.listFeedback('ops', { tenants: ['t1', 't2'] }, 100, '');
        expect(new Set(admin.feedback.map((f) => f.tenant))).toEqual(new Set(['t1', 't2']));
      });

      it('erases a tenant from the store, the stream and the disk, and the erasure survives a restart', async () => {
        expect((await rejects(stack.core.eraseTenant('t2', 't1', 't1'))).code).toBe('PERMISSION_DENIED');
        expect((await rejects(stack.core.eraseTenant('t1', 't1', 'nope'))).details.field).toBe('confirm');
        expect(await stack.log.tenantMessages('t1')).toBeGreaterThan(0);
        const res = await stack.core.eraseTenant('t1', 't1', 't1');
        expect(res).toEqual({ responses: 3, feedback: 7, purgedEvents: 10, images: 2 });
        // t1's images are gone from the image store; t2's copy of the same image stays.
        const ref = (key: string, size: number) => ({ bucket: 'tessera-images', key, size });
        await expect(getPayload(bus.nc, ref(IMG_B, IMG_B_BYTES.length), { tenant: 't1' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(getPayload(bus.nc, ref(IMG_A, IMG_A_BYTES.length), { tenant: 't1' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect(Buffer.from(await getPayload(bus.nc, ref(IMG_A, IMG_A_BYTES.length), { tenant: 't2' }))).toEqual(Buffer.from(IMG_A_BYTES));
        expect(await stack.store.counts('t1')).toEqual({ responses: 0, feedback: 0 });
        expect(await stack.log.tenantMessages('t1')).toBe(0);
        expect((await exportOf('t1', 'trl-dpo')).rows).toEqual([]);
        expect(await stack.store.counts('t2')).toEqual({ responses: 1, feedback: 1 });
        if (kind === 'file') await fileStoreHasNoTrace(dir);
        // The tenant can start again afterwards.
        await stack.core.recordResponse('t1', responseInput({ responseId: 'A2' }));
        expect((await stack.core.getResponse('t1', 'A2')).response.responseId).toBe('A2');
      });
    });
  });
}

/** Nothing of t1 is left in the store's files (the log was compacted into a snapshot without it). */
async function fileStoreHasNoTrace(dir: string): Promise<void> {
    const onDisk = ['log.jsonl', 'snapshot.json'].filter((f) => existsSync(join(dir, f))).map((f) => readFileSync(join(dir, f), 'utf8')).join('');
    expect(onDisk).not.toContain('"tenant":"t1"');
    expect(onDisk).toContain('"tenant":"t2"');
    const reopened = FileStore.open({ dir });
    expect(await reopened.counts('t1')).toEqual({ responses: 0, feedback: 0 });
    expect(await reopened.counts('t2')).toEqual({ responses: 1, feedback: 1 });
    await reopened.close();
}
