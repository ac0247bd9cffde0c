import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { Route } from '../server.js';
import { sendJson } from './route-kit.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.map': 'application/json',
};

/**
 * The playground's own origin only; images are shown from data:/blob: URLs made in the page.
 * No inline script or style, so an answer rendered by mistake as HTML could not run anything.
 */
const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/**
 * Serves the built playground (`libs/web/dist/app`, or TESSERA_GATEWAY_WEB_DIR) at `/`: `index.html`
 * for `/`, files by path otherwise. Never answers `/v1/…` (the API) so an API typo stays a JSON 404.
 * Vite names assets by content hash, so they are cached for a year; index.html is revalidated.
 */
export function staticFiles(dir: string): Route {
  const root = resolve(dir);
  return async (req, res, url) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return false; // malformed %-escape: not one of our files (the server answers 404)
    }
    if (path.startsWith('/v1/') || path === '/v1') return false;
    const rel = path === '/' ? 'index.html' : normalize(path).replace(/^[/\\]+/, '');
    const file = join(root, rel);
    // normalize() has folded every "..": anything still outside the root is not ours to serve.
    if (file !== root && !file.startsWith(root + sep)) return false;
    if (!existsSync(file) || !statSync(file).isFile()) {
      if (path !== '/') return false;
      sendJson(res, 404, {
        error: { message: `the playground is not built (${join(root, 'index.html')} is missing): run "npm run build -w @tessera/web"`, type: 'not_found_error', param: null, code: 'not_found' },
      });
      return true;
    }
    const hashed = rel.startsWith(`assets${sep}`) || rel.startsWith('assets/');
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    if (req.method === 'HEAD') return void res.end(), true;
    await new Promise<void>((done, fail) => createReadStream(file).on('error', fail).on('end', done).pipe(res));
    return true;
  };
}
