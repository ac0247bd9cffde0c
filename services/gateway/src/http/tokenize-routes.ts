/**
 * vLLM's tokenizer endpoints at the root (as vLLM serves them; lm-evaluation-harness strips
 * `/v1/completions` from its base URL to find them): `POST /tokenize`, `POST /detokenize`,
 * `GET /tokenizer_info[?model=]`. Same Bearer keys as /v1/*; no tokens are charged (nothing is
 * generated), and the body limits are the chat's (TESSERA_GATEWAY_MAX_BODY, TESSERA_GATEWAY_MAX_TEXT_CHARS).
 * auth → body → validation (domain/openai/validate-tokenize.ts) → Tokenization → JSON.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { validateDetokenizeRequest, validateTokenizeRequest } from '../domain/openai/validate-tokenize.js';
import type { ChatLimits } from '../domain/openai/limits.js';
import type { Tokenization } from '../domain/tokenizer/tokenization.js';
import type { ApiKeyStore } from '../domain/tenancy/api-keys.js';
import { readJsonBody } from './read-body.js';
import type { Route } from './server.js';
import { allowMethod, sendJson } from './web/route-kit.js';

export interface TokenizeRouteDeps {
  keys: ApiKeyStore;
  tokenization: Tokenization;
  limits: ChatLimits;
  maxBodyBytes: number;
}

export function tokenizeRoutes(deps: TokenizeRouteDeps): Route {
  const handlers: Record<string, { method: string; handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> }> = {
    '/tokenize': {
      method: 'POST',
      handle: async (req, res) => sendJson(res, 200, deps.tokenization.tokenize(validateTokenizeRequest(await readJsonBody(req, deps.maxBodyBytes), deps.limits, deps.tokenization))),
    },
    '/detokenize': {
      method: 'POST',
      handle: async (req, res) => sendJson(res, 200, deps.tokenization.detokenize(validateDetokenizeRequest(await readJsonBody(req, deps.maxBodyBytes), deps.limits, deps.tokenization))),
    },
    '/tokenizer_info': {
      method: 'GET',
      handle: async (_req, res, url) => sendJson(res, 200, deps.tokenization.info(url.searchParams.get('model') || undefined)),
    },
  };
  return async (req, res, url) => {
    const h = handlers[url.pathname.replace(/\/+$/, '') || '/'];
    if (!h) return false;
    if (!allowMethod(req, res, h.method)) return true;
    deps.keys.authenticate(req.headers.authorization);
    await h.handle(req, res, url);
    return true;
  };
}
