import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The playground is plain TypeScript + DOM: Vite only bundles and minifies it (no framework plugin).
// `vite` (dev) proxies the API to a local gateway on :8080 (`bash scripts/demo.sh --serve`).
const here = fileURLToPath(new URL('.', import.meta.url));
export default defineConfig({
  root: `${here}app`,
  base: '/',
  logLevel: 'warn',
  build: { outDir: `${here}dist/app`, emptyOutDir: true, target: 'es2022', sourcemap: false, reportCompressedSize: false },
  server: { proxy: { '/v1': 'http://127.0.0.1:8080' } },
});
