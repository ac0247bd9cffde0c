/**
 * OpenAI's stored-response routes (as vLLM serves them with its store): `GET /v1/responses/{id}` (the
 * response object as answered), `DELETE /v1/responses/{id}` (`{id, object: "response.deleted",
 * deleted: true}`) and `GET /v1/responses/{id}/input_items` (what the model read besides instructions:
 * the previous conversation and the request's input, OpenAI's list with `order`, `limit`, `after`).
 * Same Bearer keys as /v1/*; an unknown, expired, deleted or another tenant's id is a 404 naming
 * `response_id`. Nothing stored here (TESSERA_GATEWAY_RESPONSES_TTL=0): every id is unknown.
 */
import type { StoredResponses } from '../domain/responses/stored-responses.js';
import type { ApiKeyStore } from '../domain/tenancy/api-keys.js';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { decodePathParam } from './read-body.js';
import type { Route } from './server.js';
import { allowMethod, intParam, sendJson } from './web/route-kit.js';

export interface StoredResponsesRouteDeps {
  keys: ApiKeyStore;
  responses?: StoredResponses;
}

const PATH = /^\/v1\/responses\/([^/]+)(\/input_items)?\/?$/;

export function storedResponsesRoute(deps: StoredResponsesRouteDeps): Route {
  return async (req, res, url) => {
    const m = PATH.exec(url.pathname);
    if (!m) return false;
    const items = m[2] !== undefined;
    if (!allowMethod(req, res, ...(items ? ['GET'] : ['GET', 'DELETE']))) return true;
    const tenant = deps.keys.authenticate(req.headers.authorization).id;
    const id = decodePathParam(m[1]!, 'response_id');
    const store = deps.responses;
    if (!store) throw new TesseraError(ErrorCode.NOT_FOUND, `response_id: no stored response "${id}" (responses are not stored on this server: TESSERA_GATEWAY_RESPONSES_TTL=0)`, { field: 'response_id' });
    if (req.method === 'DELETE') {
      await store.delete(tenant, id);
      sendJson(res, 200, { id, object: 'response.deleted', deleted: true });
      return true;
    }
    const record = await store.find(tenant, id, 'response_id');
    sendJson(res, 200, items ? inputItemsList(id, record.input, url) : record.response);
    return true;
  };
}

/** OpenAI's input item list: every item with an id (stored items without one get `<id>_<index>`), string contents as input_text parts. */
function inputItemsList(id: string, input: unknown[], url: URL) {
  const order = url.searchParams.get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `order must be "asc" or "desc", got "${order}"`, { field: 'order' });
  const limit = intParam(url, 'limit', 1, 100) ?? 20;
  const all = input.map((raw, i) => {
    const item = raw as Record<string, unknown>;
    const type = item.type ?? 'message';
    const content = typeof item.content === 'string' ? [{ type: item.role === 'assistant' ? 'output_text' : 'input_text', text: item.content }] : item.content;
    return { ...item, type, id: typeof item.id === 'string' ? item.id : `${type === 'message' ? 'msg' : 'item'}_${id.slice('resp_'.length)}_${i}`, ...(content !== undefined && { content }) };
  });
  if (order === 'desc') all.reverse();
  const after = url.searchParams.get('after');
  const start = after ? all.findIndex((x) => x.id === after) + 1 : 0;
  const data = all.slice(start, start + limit);
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: start + limit < all.length };
}
