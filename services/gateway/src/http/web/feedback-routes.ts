import type { IncomingMessage, ServerResponse } from 'node:http';
import { feedbackV1 } from '@tessera/contracts';
import { ErrorCode, TesseraError, type ServiceClient } from '@tessera/runtime';
import { decodePathParam, readJsonBody } from '../read-body.js';
import type { Route } from '../server.js';
import type { ApiKeyStore } from '../../domain/tenancy/api-keys.js';
import { allowMethod, clientGone, intParam, sendJson } from './route-kit.js';

export interface FeedbackRouteDeps {
  keys: ApiKeyStore;
  feedback: ServiceClient<typeof feedbackV1.FeedbackServiceService>;
  /** Largest feedback body; a feedback record is small (4096-code-point comment, 64 spans). */
  maxBodyBytes: number;
  /** Per-call timeout towards the feedback service (exports stream longer; they get 10×). */
  timeoutMs: number;
}

/** `?format=` spellings → the contract enum (lowercase enum suffixes, as the CLI spells them). */
const FORMATS: Record<string, feedbackV1.ExportFormat> = {
  trl_dpo: feedbackV1.ExportFormat.TRL_DPO,
  openai_dpo: feedbackV1.ExportFormat.OPENAI_DPO,
  rlaif_v: feedbackV1.ExportFormat.RLAIF_V,
  kto: feedbackV1.ExportFormat.KTO,
  sft: feedbackV1.ExportFormat.SFT,
  spans_sidecar: feedbackV1.ExportFormat.SPANS_SIDECAR,
  openai_sft: feedbackV1.ExportFormat.OPENAI_SFT,
};

const REASONS: Record<string, feedbackV1.ReviewReason> = {
  low_confidence: feedbackV1.ReviewReason.LOW_CONFIDENCE,
  thumbs_down: feedbackV1.ReviewReason.THUMBS_DOWN,
  ai_flagged: feedbackV1.ReviewReason.AI_FLAGGED,
  disagreement: feedbackV1.ReviewReason.DISAGREEMENT,
};

const RESPONSE_PATH = /^\/v1\/tessera\/responses\/([^/]{1,64})$/;

/**
 * The feedback service over HTTP for the playground, scoped to the API key's tenant. Bodies and
 * answers are the contract's canonical proto3 JSON (`SubmitFeedbackRequest.fromJSON` /
 * `…Response.toJSON`), so the browser speaks exactly the shapes feedback.proto documents.
 *
 *   POST /v1/tessera/feedback                {feedback: Feedback}  → SubmitFeedbackResponse
 *   GET  /v1/tessera/feedback?response_id=&category=&page_size=&page_token=  → ListFeedbackResponse
 *   GET  /v1/tessera/responses/{id}                                → GetResponseResponse
 *   GET  /v1/tessera/review-queue?reason=&page_size=&page_token=   → ReviewQueueResponse
 *   GET  /v1/tessera/export?format=sft&response_id=&max_rows=      → JSONL rows (application/x-ndjson)
 *   GET  /v1/tessera/export?format=…&bundle=tar                    → a training bundle (application/x-tar: data.jsonl
 *        or data.parquet, images/, summary.json — what `tessera feedback export` writes)
 */
export function feedbackRoutes(deps: FeedbackRouteDeps): Route {
  return async (req, res, url) => {
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/v1/tessera/feedback') {
      if (!allowMethod(req, res, 'GET', 'POST')) return true;
      if (req.method === 'POST') await submit(deps, req, res);
      else await list(deps, req, res, url);
      return true;
    }
    const m = RESPONSE_PATH.exec(path);
    if (m) {
      if (!allowMethod(req, res, 'GET')) return true;
      const tenant = deps.keys.authenticate(req.headers.authorization);
      const responseId = decodePathParam(m[1]!, 'response_id');
      const out = await deps.feedback.getResponse({ responseId }, call(deps, tenant.id, req, res));
      sendJson(res, 200, feedbackV1.GetResponseResponse.toJSON(out));
      return true;
    }
    if (path === '/v1/tessera/review-queue') {
      if (!allowMethod(req, res, 'GET')) return true;
      const tenant = deps.keys.authenticate(req.headers.authorization);
      const reasons = url.searchParams.getAll('reason').map((r) => {
        const v = REASONS[r];
        if (v === undefined) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `reason must be one of ${Object.keys(REASONS).join(', ')}, got "${r}"`, { field: 'reason' });
        return v;
      });
      const out = await deps.feedback.reviewQueue(
        { reasons, models: url.searchParams.getAll('model'), pageSize: intParam(url, 'page_size', 1, 200) ?? 0, pageToken: url.searchParams.get('page_token') ?? '' },
        call(deps, tenant.id, req, res),
      );
      sendJson(res, 200, feedbackV1.ReviewQueueResponse.toJSON(out));
      return true;
    }
    if (path === '/v1/tessera/export') {
      if (!allowMethod(req, res, 'GET')) return true;
      await exportRows(deps, req, res, url);
      return true;
    }
    return false;
  };
}

function call(deps: FeedbackRouteDeps, tenant: string, req: IncomingMessage, res: ServerResponse, timeoutMs = deps.timeoutMs) {
  // The tenant always comes from the API key, never from the body or the query.
  return { tenant, timeoutMs, signal: clientGone(req, res) };
}

async function submit(deps: FeedbackRouteDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const tenant = deps.keys.authenticate(req.headers.authorization);
  const body = await readJsonBody(req, deps.maxBodyBytes);
  if (typeof body !== 'object' || body === null || Array.isArray(body) || typeof (body as { feedback?: unknown }).feedback !== 'object' || (body as { feedback?: unknown }).feedback === null) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'body must be {"feedback": {...}} (feedback.proto Feedback in proto3 JSON)', { field: 'feedback' });
  }
  const request = feedbackV1.SubmitFeedbackRequest.fromJSON(body);
  const out = await deps.feedback.submitFeedback(request, call(deps, tenant.id, req, res));
  sendJson(res, 200, feedbackV1.SubmitFeedbackResponse.toJSON(out));
}

async function list(deps: FeedbackRouteDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const tenant = deps.keys.authenticate(req.headers.authorization);
  const out = await deps.feedback.listFeedback(
    { filter: filterFrom(url), pageSize: intParam(url, 'page_size', 1, 500) ?? 0, pageToken: url.searchParams.get('page_token') ?? '' },
    call(deps, tenant.id, req, res),
  );
  sendJson(res, 200, feedbackV1.ListFeedbackResponse.toJSON(out));
}

function filterFrom(url: URL): feedbackV1.FeedbackFilter {
  // Only the caller's tenant: `tenants` stays empty, so an admin key cannot widen it from the UI.
  return feedbackV1.FeedbackFilter.fromJSON({
    responseId: url.searchParams.get('response_id') ?? '',
    categories: url.searchParams.getAll('category'),
    models: url.searchParams.getAll('model'),
  });
}

async function exportRows(deps: FeedbackRouteDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const tenant = deps.keys.authenticate(req.headers.authorization);
  const name = url.searchParams.get('format') ?? '';
  const format = FORMATS[name];
  if (format === undefined) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `format must be one of ${Object.keys(FORMATS).join(', ')}, got "${name}"`, { field: 'format' });
  const bundleParam = url.searchParams.get('bundle');
  if (bundleParam !== null && bundleParam !== 'tar') throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `bundle must be "tar" (a training bundle: data + images/ + summary.json), got "${bundleParam}"`, { field: 'bundle' });
  const bundle = bundleParam === 'tar';
  const stream = deps.feedback.export(
    { format, filter: filterFrom(url), imageMode: bundle ? feedbackV1.ImageMode.BUNDLE : feedbackV1.ImageMode.REF, maxRows: intParam(url, 'max_rows', 0, 1_000_000) ?? 0 },
    // An export walks the whole store; give it ten request timeouts.
    call(deps, tenant.id, req, res, deps.timeoutMs * 10),
  );
  const it = stream[Symbol.asyncIterator]();
  // Wait for the first message before the status line, so an export error is a real HTTP error.
  let next = await it.next();
  res.writeHead(200, {
    'content-type': bundle ? 'application/x-tar' : 'application/x-ndjson',
    'cache-control': 'no-store',
    'content-disposition': `attachment; filename="tessera-${name}.${bundle ? 'tar' : 'jsonl'}"`,
  });
  try {
    while (!next.done) {
      const item = next.value.item;
      const bytes = item?.$case === 'row' ? item.row + '\n' : item?.$case === 'bundleChunk' ? item.bundleChunk : undefined;
      if (bytes !== undefined && !res.write(bytes)) await new Promise((r) => res.once('drain', r));
      next = await it.next();
    }
  } catch (err) {
    // Status already sent: cut the connection so the client sees an incomplete download, not a short file.
    res.destroy(err as Error);
    return;
  }
  res.end();
}
