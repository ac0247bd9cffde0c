import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { handleChatCompletion, type ChatHandlerDeps } from './chat-handler.js';
import { toHttpError } from './errors.js';

/** Extra routes mounted by other parts of the gateway (feedback proxy, playground assets). */
export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export interface HttpServerDeps extends ChatHandlerDeps {
  ready: () => boolean;
  routes?: Route[];
}

export function createHttpServer(deps: HttpServerDeps): Server {
  const server = createServer((req, res) => {
    route(req, res, deps).catch((err) => {
      if (res.headersSent) return void res.destroy();
      const e = toHttpError(err);
      res.writeHead(e.status, { 'content-type': 'application/json', ...e.headers });
      res.end(JSON.stringify(e.body));
    });
  });
  // Node closes idle keep-alive sockets after 5 s; a client reusing one at that moment gets "other
  // side closed" (seen in bench/e2e). Outlive the usual 60 s idle timeout of load balancers instead.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

async function route(req: IncomingMessage, res: ServerResponse, deps: HttpServerDeps): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://gateway');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (path === '/v1/chat/completions') {
    if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
    return handleChatCompletion(req, res, deps);
  }
  if (path === '/v1/models') {
    if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
    deps.keys.authenticate(req.headers.authorization);
    return json(res, 200, { object: 'list', data: deps.models().map((id) => ({ id, object: 'model', created: 0, owned_by: 'tessera' })) });
  }
  if (path === '/healthz') return json(res, 200, { status: 'ok' });
  if (path === '/readyz') return deps.ready() ? json(res, 200, { status: 'ready' }) : json(res, 503, { status: 'not ready' });
  for (const r of deps.routes ?? []) if (await r(req, res, url)) return;
  throw new TesseraError(ErrorCode.NOT_FOUND, `no route for ${req.method} ${path}`, { field: 'path' });
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.writeHead(405, { 'content-type': 'application/json', allow });
  res.end(JSON.stringify({ error: { message: `method not allowed; use ${allow}`, type: 'invalid_request_error', param: null, code: 'method_not_allowed' } }));
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
