/**
 * @tessera/web — the playground and annotation UI (vanilla TypeScript, bundled by Vite into
 * `dist/`, served by the gateway at `/`). This entry is the Node side: where the build lives and
 * how tests and the demo make sure it exists. The browser code is under `app/`.
 */
export { WEB_DIST_DIR, WEB_APP_DIR, ensureWebBuild, webBuildIsFresh } from './ensure-build.js';
