#!/usr/bin/env node
// Adds lockfile entries for other platforms' optional native packages that npm could not resolve.
//
// Why: the registry this project's machines and CI reach serves only some platforms' binaries (for
// example @lancedb/lancedb-darwin-arm64 answers 404). npm then leaves those optional dependencies out
// of package-lock.json, and `npm ci` refuses the lockfile ("Missing: … from lock file"). An entry with
// the version, `optional: true` and the os/cpu/libc that the package name encodes is what npm needs:
// on a machine of another platform it is skipped without a download; on the matching platform npm
// fetches that exact version (no integrity is recorded, as for any entry written offline).
//   node scripts/complete-lockfile.mjs          # fix package-lock.json in place
//   node scripts/complete-lockfile.mjs --check  # exit 1 when an entry is missing (CI)
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const text = readFileSync(path, 'utf8');
const lock = JSON.parse(text);
const packages = lock.packages;

/** os/cpu/libc from a platform package name such as foo-linux-arm64-musl or foo-win32-x64-msvc. */
function platformOf(name) {
  const m = /-(darwin|linux|win32|freebsd|android|openbsd|sunos|aix)-(x64|arm64|ia32|arm|ppc64|s390x|riscv64|loong64|wasm32)(?:-(gnu|musl|msvc|gnueabihf|musleabihf))?$/.exec(name);
  if (!m) return undefined;
  const [, os, cpu, abi] = m;
  const libc = abi === 'gnu' || abi === 'gnueabihf' ? ['glibc'] : abi === 'musl' || abi === 'musleabihf' ? ['musl'] : undefined;
  return { cpu: [cpu], ...(libc && { libc }), os: [os] };
}

/** Where npm would look up `dep` from the package at `from` (its own node_modules, then upwards). */
function resolves(from, dep) {
  let base = from;
  for (;;) {
    if (packages[`${base ? `${base}/` : ''}node_modules/${dep}`]) return true;
    if (!base) return false;
    const i = base.lastIndexOf('/node_modules/');
    base = i >= 0 ? base.slice(0, i) : '';
  }
}

const added = [];
for (const [at, pkg] of Object.entries(packages)) {
  for (const [dep, spec] of Object.entries(pkg.optionalDependencies ?? {})) {
    if (resolves(at, dep)) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) continue; // only exact-version platform binaries
    const key = `node_modules/${dep}`;
    if (packages[key]) continue;
    // Field order as npm writes it (version, cpu, libc, optional, os), so `npm install` keeps the bytes.
    const { os, ...cpuLibc } = platform;
    packages[key] = { version: spec, ...cpuLibc, optional: true, os };
    added.push(`${dep}@${spec}`);
  }
}

if (process.argv.includes('--check')) {
  if (added.length) {
    console.error(`package-lock.json lacks ${added.length} optional platform entries (${added.join(', ')}): run node scripts/complete-lockfile.mjs`);
    process.exit(1);
  }
  process.exit(0);
}
if (added.length) {
  // Keep npm's key order (sorted paths) so a later `npm install` rewrites nothing.
  lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b, 'en'))));
  writeFileSync(path, JSON.stringify(lock, null, 2) + '\n');
}
console.log(added.length ? `added ${added.length} entries: ${added.join(', ')}` : 'package-lock.json is complete');
