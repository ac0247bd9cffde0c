import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PKG = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The built bundle the gateway serves by default (TESSERA_GATEWAY_WEB_DIR empty). */
// dist/app: dist/ itself holds this package's compiled JavaScript (scripts/build.mjs).
export const WEB_DIST_DIR = join(PKG, 'dist', 'app');
export const WEB_APP_DIR = join(PKG, 'app');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** True when dist/index.html exists and is newer than every source file (app/ and vite.config.ts). */
export function webBuildIsFresh(): boolean {
  const index = join(WEB_DIST_DIR, 'index.html');
  if (!existsSync(index)) return false;
  const built = statSync(index).mtimeMs;
  return built >= Math.max(newestMtime(WEB_APP_DIR), statSync(join(PKG, 'vite.config.ts')).mtimeMs);
}

/**
 * Builds the playground when `dist/` is missing or older than its sources (about 1 s with Vite 7),
 * so the e2e test and the demo never serve a stale or absent UI. The bundle is not committed: it is
 * generated output, and a committed copy would drift from the sources.
 */
export async function ensureWebBuild(opts: { force?: boolean } = {}): Promise<string> {
  if (!opts.force && webBuildIsFresh()) return WEB_DIST_DIR;
  // Imported lazily: the gateway imports this package for WEB_DIST_DIR and must not load Vite.
  const { build } = await import('vite');
  await build({ configFile: join(PKG, 'vite.config.ts'), logLevel: 'warn' });
  return WEB_DIST_DIR;
}
