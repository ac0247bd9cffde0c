/**
 * `POST /v1/embeddings` (OpenAI shape) backed by the retrieval service's embedders over NATS:
 * auth → body → validation → quota (requests/min and tokens/min of the key's tenant; tokens are
 * reserved from the text length and settled with the embedder's count) → RetrievalService.Embed →
 * `{ object: "list", data: [{ object: "embedding", index, embedding }], model, usage }`, the
 * embedding as numbers or base64 float32 (little-endian).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { retrievalV1 } from '@tessera/contracts';
import { ErrorCode, TesseraError, type ServiceClient } from '@tessera/runtime';
import { base64Floats, validateEmbeddingsRequest } from '../domain/openai/validate-embeddings.js';
import type { ApiKeyStore } from '../domain/tenancy/api-keys.js';
import type { QuotaLedger } from '../domain/tenancy/quota-ledger.js';
import { allowMethod, clientGone, sendJson } from './web/route-kit.js';
import { readJsonBody } from './read-body.js';
import type { Route } from './server.js';

export interface EmbeddingsRouteDeps {
  keys: ApiKeyStore;
  quotas: QuotaLedger;
  retrieval: ServiceClient<typeof retrievalV1.RetrievalServiceService>;
  maxBodyBytes: number;
  timeoutMs: number;
}

export function embeddingsRoute(deps: EmbeddingsRouteDeps): Route {
  return async (req, res, url) => {
    if ((url.pathname.replace(/\/+$/, '') || '/') !== '/v1/embeddings') return false;
    if (!allowMethod(req, res, 'POST')) return true;
    await handle(deps, req, res);
    return true;
  };
}

async function handle(deps: EmbeddingsRouteDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const tenant = deps.keys.authenticate(req.headers.authorization);
  const valid = validateEmbeddingsRequest(await readJsonBody(req, deps.maxBodyBytes));
  // Every embedder here counts at most one token per code point (+ 2 specials); reserve that,
  // capped at the tenant's per-minute budget, and settle with the real count.
  const estimate = valid.inputs.reduce((s, t) => s + t.length + 2, 0);
  const reservation = deps.quotas.admit(tenant, Math.min(estimate, tenant.quota.tokensPerMinute));
  let out: retrievalV1.EmbedResponse;
  try {
    out = await deps.retrieval.embed(
      { inputs: valid.inputs, model: valid.model, inputType: retrievalV1.EmbedInputType.UNSPECIFIED },
      { tenant: tenant.id, timeoutMs: deps.timeoutMs, signal: clientGone(req, res) },
    );
  } catch (err) {
    reservation.release();
    throw renameInputs(err);
  }
  reservation.settle({ prompt: Number(out.promptTokens), completion: 0 });
  if (valid.dimensions !== undefined && valid.dimensions !== out.dimension) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `model ${out.model} produces ${out.dimension}-dimensional embeddings; dimensions ${valid.dimensions} cannot be served`, { field: 'dimensions', limit: `dimensions = ${out.dimension}` });
  }
  sendJson(res, 200, {
    object: 'list',
    data: out.embeddings.map((e, index) => ({ object: 'embedding', index, embedding: valid.encodingFormat === 'base64' ? base64Floats(e.values) : e.values })),
    model: out.model,
    usage: { prompt_tokens: Number(out.promptTokens), total_tokens: Number(out.promptTokens) },
  });
}

/** The service names `inputs[i]`; the OpenAI body calls it `input[i]`. */
function renameInputs(err: unknown): unknown {
  const e = TesseraError.from(err);
  const field = e.details.field;
  if (typeof field !== 'string' || !field.startsWith('inputs')) return e;
  return new TesseraError(e.code, e.message.replace(/^inputs/, 'input'), { ...e.details, field: field.replace(/^inputs/, 'input') });
}
