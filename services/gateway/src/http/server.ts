import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { handleChatCompletion, type ChatHandlerDeps } from './chat-handler.js';
import { handleCompletion } from './completion-handler.js';
import { handleResponses } from './responses-handler.js';
import { decodePathParam } from './read-body.js';
import { unknownModel } from '../domain/openai/validate-common.js';
import { HttpMetrics, routeTemplate } from './request-metrics.js';
import { requestIdOf } from './request-id.js';
import { allowMethod, sendError, sendJson } from './web/route-kit.js';

/** Extra routes mounted by other parts of the gateway (feedback proxy, playground assets). */
export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export interface HttpServerDeps extends Omit<ChatHandlerDeps, 'metrics'> {
  ready: () => boolean;
  routes?: Route[];
  metrics?: HttpMetrics;
  /** Extra fields of a model's /v1/models entry (its MiniCPM-V `family` and `downsample_modes`). */
  describeModel?: (id: string) => Record<string, unknown>;
}

/** Per-request facts every handler may use: the id echoed in `x-request-id` and the arrival time. */
export interface RequestInfo {
  requestId: string;
  /** `performance.now()` when the request arrived (TTFT and e2e latency start here). */
  arrivedAt: number;
}

export function createHttpServer(deps: HttpServerDeps): Server {
  const metrics = deps.metrics ?? new HttpMetrics();
  const full: ChatHandlerDeps & HttpServerDeps = { ...deps, metrics };
  const server = createServer((req, res) => {
    const info: RequestInfo = { requestId: requestIdOf(req), arrivedAt: performance.now() };
    // Every response, errors and playground assets included, carries the id (OpenAI and vLLM do).
    res.setHeader('x-request-id', info.requestId);
    const done = metrics.begin(req.method ?? 'GET');
    const path = new URL(req.url ?? '/', 'http://gateway').pathname.replace(/\/+$/, '') || '/';
    res.once('close', () => done(routeTemplate(path), res.statusCode));
    route(req, res, full, info).catch((err) => {
      if (res.headersSent) return void res.destroy();
      sendError(res, err);
    });
  });
  // Node closes idle keep-alive sockets after 5 s; a client reusing one at that moment gets "other
  // side closed" (seen in bench/e2e). Outlive the usual 60 s idle timeout of load balancers instead.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

async function route(req: IncomingMessage, res: ServerResponse, deps: ChatHandlerDeps & HttpServerDeps, info: RequestInfo): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://gateway');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (path === '/v1/chat/completions') {
    if (!allowMethod(req, res, 'POST')) return;
    return handleChatCompletion(req, res, deps, info);
  }
  if (path === '/v1/completions') {
    if (!allowMethod(req, res, 'POST')) return;
    return handleCompletion(req, res, deps, info);
  }
  if (path === '/v1/responses') {
    if (!allowMethod(req, res, 'POST')) return;
    return handleResponses(req, res, deps, info);
  }
  if (path === '/v1/models') {
    if (!allowMethod(req, res, 'GET')) return;
    deps.keys.authenticate(req.headers.authorization);
    return sendJson(res, 200, { object: 'list', data: deps.models().map((id) => modelJson(id, deps.describeModel)) });
  }
  if (path.startsWith('/v1/models/')) {
    if (!allowMethod(req, res, 'GET')) return;
    deps.keys.authenticate(req.headers.authorization);
    // Model ids may contain '/' (org/name): everything after the prefix is the id.
    const id = decodePathParam(path.slice('/v1/models/'.length), 'model');
    if (!deps.models().includes(id)) throw unknownModel(id, deps.models(), deps.whereModelsRun?.());
    return sendJson(res, 200, modelJson(id, deps.describeModel));
  }
  // `/health` is vLLM's liveness path (200, empty body); `/healthz` is ours. Both say "the process is up".
  if (path === '/health') return void res.writeHead(200, { 'content-length': '0' }).end();
  if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
  if (path === '/readyz') return deps.ready() ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, 503, { status: 'not ready' });
  for (const r of deps.routes ?? []) if (await r(req, res, url)) return;
  throw new TesseraError(ErrorCode.NOT_FOUND, `no route for ${req.method} ${path}`, { field: 'path' });
}

function modelJson(id: string, describe?: (id: string) => Record<string, unknown>) {
  return { id, object: 'model', created: 0, owned_by: 'tessera', ...describe?.(id) };
}

