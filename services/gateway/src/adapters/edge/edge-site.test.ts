import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { feedbackV1 } from '@tessera/contracts';
import { parseSiteConfig } from '@tessera/edge';
import { ensureTinyModel } from '@tessera/model';
import { ErrorCode, TesseraError, type ServiceClient } from '@tessera/runtime';
import { feedbackWithHubAnswers, fitsInlineAtHub, loadHubModelCards } from './edge-site.js';
import { validateCompletionRequest } from '../../domain/openai/validate-completion.js';
import { DEFAULT_CHAT_LIMITS } from '../../domain/openai/limits.js';

type FeedbackClient = ServiceClient<typeof feedbackV1.FeedbackServiceService>;
const request = (responseId: string): feedbackV1.SubmitFeedbackRequest => ({ feedback: { feedbackId: 'f', responseId, comment: '', correction: '', spans: [] } });

describe('feedback at an edge site (both edges use this client)', () => {
  it("sends feedback on a response the site's store does not know to the hub; anything else stays the site's answer", async () => {
    const atHub: string[] = [];
    const site = {
      submitFeedback: async (r: feedbackV1.SubmitFeedbackRequest) => {
        const id = r.feedback!.responseId;
        if (id === 'site-answer') return { duplicate: false };
        if (id === 'bad-spans') throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'span outside the answer', { field: 'feedback.spans[0]' });
        if (id === 'other-not-found') throw new TesseraError(ErrorCode.NOT_FOUND, 'no such tenant', { field: 'tenant' });
        throw new TesseraError(ErrorCode.NOT_FOUND, `unknown response ${id}`, { field: id === 'pref' ? 'feedback.preference' : 'feedback.response_id' });
      },
      listFeedback: async () => ({ feedback: [], nextPageToken: '' }),
    } as unknown as FeedbackClient;
    const hub = { submitFeedback: async (r: feedbackV1.SubmitFeedbackRequest) => (atHub.push(r.feedback!.responseId), { duplicate: true }) };
    const client = feedbackWithHubAnswers(site, hub);
    expect(await client.submitFeedback(request('site-answer'), { tenant: 'acme' })).toEqual({ duplicate: false });
    expect(await client.submitFeedback(request('hub-answer'), { tenant: 'acme' })).toEqual({ duplicate: true });
    expect(await client.submitFeedback(request('pref'), { tenant: 'acme' })).toEqual({ duplicate: true });
    await expect(client.submitFeedback(request('bad-spans'), { tenant: 'acme' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.submitFeedback(request('other-not-found'), { tenant: 'acme' })).rejects.toMatchObject({ details: { field: 'tenant' } });
    expect(atHub).toEqual(['hub-answer', 'pref']);
    // The other methods are the site's own.
    expect(client.listFeedback).toBe(site.listFeedback);
  });

  it('the hub out of reach: UNAVAILABLE naming the field, with a retry hint (a 503 with Retry-After over HTTP)', async () => {
    const site = { submitFeedback: async () => Promise.reject(new TesseraError(ErrorCode.NOT_FOUND, 'unknown response', { field: 'feedback.response_id' })) } as unknown as FeedbackClient;
    const cut = { submitFeedback: async () => Promise.reject(new TesseraError(ErrorCode.UNAVAILABLE, 'no responders on tessera.work.uplink…', { field: 'subject' })) };
    await expect(feedbackWithHubAnswers(site, cut).submitFeedback(request('hub-answer'), { tenant: 'acme' })).rejects.toMatchObject({ code: 'UNAVAILABLE', details: { field: 'feedback.response_id', retryAfterMs: 1000 } });
    const refused = { submitFeedback: async () => Promise.reject(new TesseraError(ErrorCode.NOT_FOUND, 'unknown response at the hub', { field: 'feedback.response_id' })) };
    await expect(feedbackWithHubAnswers(site, refused).submitFeedback(request('typo'), { tenant: 'acme' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'unknown response at the hub' });
  });
});

describe('hub model cards at a site (route "stages")', () => {
  const config = (model: Record<string, unknown>) => parseSiteConfig({ site: 'shop-1', hubDomain: 'hub', models: [{ id: 'big', place: 'hub', route: 'stages', ...model }] });

  it("reads a card's revision, family and tokenizer from the built model directory (weights not needed)", async () => {
    const dir = await ensureTinyModel();
    const card = loadHubModelCards(config({ modelDir: dir, family: '2.6' })).get('big')!;
    expect(card.revision).toMatch(/^[0-9a-f]{64}$/);
    expect(card.family).toBe('2.6');
    expect(card.tokenizer.encodePlain('hello').length).toBeGreaterThan(0);
    expect(loadHubModelCards(parseSiteConfig({ site: 'shop-1', hubDomain: 'hub', models: [{ id: 'big', place: 'hub' }] })).size).toBe(0);
  });

  it('refuses the start naming the field: no card at modelDir, or a card of another family than declared', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tessera-card-'));
    try {
      expect(() => loadHubModelCards(config({ modelDir: empty }))).toThrow(/site config: models\[0\]\.modelDir: cannot read the model card of "big"/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const err = (() => {
      try {
        loadHubModelCards(config({ modelDir: '/nonexistent', family: '2.6' }));
      } catch (e) {
        return e as TesseraError;
      }
    })();
    expect(err?.details.field).toBe('models[0].modelDir');
    expect(() => loadHubModelCards(config({ modelDir: '', family: '4.6' }))).toThrow(/modelDir/);
    const dir = await ensureTinyModel();
    expect(() => loadHubModelCards(config({ modelDir: dir, family: '4.6' }))).toThrow(/models\[0\]\.family: "4.6" is declared, but the card at .* is a 2.6 model/);
  });
});

describe('the stages route carries requests inline only', () => {
  it('up to 384 KiB on the wire: a larger one would be claim-checked into the site bucket, out of the hub decoder\'s reach', () => {
    const limits = { ...DEFAULT_CHAT_LIMITS, maxTextChars: 1 << 20 };
    const of = (prompt: string) => validateCompletionRequest({ model: 'big', prompt }, limits, ['big']);
    expect(fitsInlineAtHub(of('hello'))).toBe(true);
    expect(fitsInlineAtHub(of('x'.repeat(380 * 1024)))).toBe(true);
    expect(fitsInlineAtHub(of('x'.repeat(390 * 1024)))).toBe(false);
    // Bytes, not characters: 140k CJK characters are 420 KB of UTF-8.
    expect(fitsInlineAtHub(of('界'.repeat(140_000)))).toBe(false);
  });
});

