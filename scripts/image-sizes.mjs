#!/usr/bin/env node
// Prints what the service images carry in node_modules, from package-lock.json and the installed tree:
// every package (what the current per-service Dockerfiles copy: one `npm ci` with dev tooling), the
// production dependencies only (what `npm ci --omit=dev` would install), and the largest production
// packages. No Docker engine runs on the development machines, so image sizes themselves (base image
// + layers) cannot be measured here; the base image adds its own ~200 MB (node:*-bookworm-slim).
//   node scripts/image-sizes.mjs
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));

/** Bytes on disk under a directory (files only, symlinks not followed). */
function du(dir) {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += du(p);
    else if (e.isFile()) total += lstatSync(p).size;
  }
  return total;
}

const mb = (n) => `${(n / 1e6).toFixed(0)} MB`;
const rows = [];
for (const [path, pkg] of Object.entries(lock.packages)) {
  if (!path.startsWith('node_modules/') || pkg.link) continue;
  // Nested copies are counted inside their parent's directory.
  if (path.lastIndexOf('node_modules/') !== 0) continue;
  const bytes = du(join(root, path));
  if (bytes === 0) continue; // another platform's optional binary: not installed here
  rows.push({ name: path.slice('node_modules/'.length), bytes, dev: pkg.dev === true || pkg.devOptional === true });
}
const sum = (xs) => xs.reduce((a, r) => a + r.bytes, 0);
const prod = rows.filter((r) => !r.dev);
console.log(`node_modules, every package (today's images):   ${mb(sum(rows))} in ${rows.length} packages`);
console.log(`production dependencies only (npm ci --omit=dev): ${mb(sum(prod))} in ${prod.length} packages`);
console.log(`dev tooling left out:                             ${mb(sum(rows) - sum(prod))}`);
console.log('\nlargest production packages:');
for (const r of prod.sort((a, b) => b.bytes - a.bytes).slice(0, 10)) console.log(`  ${mb(r.bytes).padStart(7)}  ${r.name}`);
