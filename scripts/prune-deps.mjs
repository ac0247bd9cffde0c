#!/usr/bin/env node
// Leaves in node_modules only what one compiled service loads, for its container image:
//   node scripts/prune-deps.mjs <service> [--dry-run]
// Run after `npm ci --omit=dev` and `node scripts/build.mjs`. It follows the service's compiled import
// graph from services/<service>/dist/main.js (static imports, string-literal dynamic imports,
// require/createRequire and require.resolve of a package path), through the @tessera/* packages'
// dist/ (the tessera-dist export condition), and collects the third-party packages it reaches; their
// closure over package-lock.json (dependencies, optional and peer dependencies) is kept and every
// other top-level package is removed. Then the platform binaries other than linux-x64 that
// onnxruntime-node bundles (darwin, win32, linux-arm64: ~250 MB) are removed.
// The root dependencies are one list for every service (single-version policy), so without this each
// image would carry all of them: the gateway would ship LanceDB and onnxruntime (~850 MB).
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const [service, flag] = process.argv.slice(2);
const dry = flag === '--dry-run';
const entry = join(root, 'services', service ?? '', 'dist', 'main.js');
if (!service || !existsSync(entry)) {
  console.error(`usage: prune-deps.mjs <service> [--dry-run]  (no ${entry}: run node scripts/build.mjs first)`);
  process.exit(2);
}
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));

/** @tessera/<name> → its package directory (workspaces). */
const workspaces = new Map();
for (const group of ['libs', 'services']) {
  for (const name of readdirSync(join(root, group))) {
    const pj = join(root, group, name, 'package.json');
    if (existsSync(pj)) workspaces.set(JSON.parse(readFileSync(pj, 'utf8')).name, join(root, group, name));
  }
}

const SPECIFIERS = [
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g, // import/export … from 'x'
  /(?:^|[\s;])import\s*['"]([^'"]+)['"]/g, // import 'x'
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g, // import('x')
  /\brequire(?:\.resolve)?\(\s*['"]([^'"]+)['"]\s*\)/g, // require('x'), require.resolve('x/…')
  /\)\(\s*['"]([^'"]+)['"]\s*\)/g, // createRequire(import.meta.url)('x')
];
const packageOf = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);

const thirdParty = new Set();
const seen = new Set();
const queue = [entry];
while (queue.length > 0) {
  const file = queue.pop();
  if (seen.has(file) || !existsSync(file)) continue;
  seen.add(file);
  // Whole-line comments are not code: the vision WebAssembly builder's `// import "env" "memory"`
  // (a wasm import section) once made the gateway "import" a package named env and failed the build.
  const text = readFileSync(file, 'utf8').split('\n').filter((l) => !/^\s*(?:\/\/|\/?\*)/.test(l)).join('\n');
  for (const re of SPECIFIERS) {
    for (const m of text.matchAll(re)) {
      const spec = m[1];
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (target.endsWith('.js') || target.endsWith('.mjs')) queue.push(target);
        else if (existsSync(target) && statSync(target).isDirectory()) queue.push(join(target, 'index.js'));
        continue;
      }
      const pkg = packageOf(spec);
      if (workspaces.has(pkg)) queue.push(workspaceEntry(pkg, spec.slice(pkg.length)));
      else if (!isBuiltin(pkg)) thirdParty.add(pkg);
    }
  }
}

/**
 * A workspace package's compiled entry for `subpath` ('' = the package, '/text' = its "./text" export);
 * it must exist and be what the tessera-dist condition selects. Subpath entries let a service take a
 * light part of a package (the gateway: @tessera/model/text, without onnxruntime).
 */
function workspaceEntry(pkg, subpath = '') {
  const dir = workspaces.get(pkg);
  const key = `.${subpath}`;
  const exp = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).exports?.[key];
  const want = subpath === '' ? './dist/index.js' : `./dist${subpath}.js`;
  const entryFile = join(dir, want);
  if (typeof exp !== 'object' || exp['tessera-dist'] !== want || !existsSync(entryFile)) {
    console.error(`prune-deps: ${service} imports ${pkg}${subpath}, which has no compiled entry: its package.json needs exports "${key}" = { "tessera-dist": "${want}", "default": "./src${subpath === '' ? '/index' : subpath}.ts" } and tsconfig.build.json must include it`);
    process.exit(1);
  }
  return entryFile;
}

function isBuiltin(name) {
  return ['fs', 'path', 'os', 'crypto', 'events', 'stream', 'url', 'util', 'http', 'https', 'net', 'zlib', 'child_process', 'worker_threads', 'perf_hooks', 'module', 'assert', 'buffer', 'async_hooks', 'dns', 'tls', 'readline', 'process', 'timers', 'string_decoder', 'v8', 'vm'].includes(name);
}

/** Closure over the lockfile: a package's dependencies resolve from its own nested node_modules upwards. */
const keep = new Set();
function visit(pkgPath) {
  if (keep.has(pkgPath)) return;
  const meta = lock.packages[pkgPath];
  if (!meta) return;
  keep.add(pkgPath);
  const deps = { ...meta.dependencies, ...meta.optionalDependencies, ...meta.peerDependencies };
  for (const dep of Object.keys(deps)) {
    let base = pkgPath;
    for (;;) {
      const candidate = `${base}/node_modules/${dep}`;
      if (lock.packages[candidate]) {
        visit(candidate);
        break;
      }
      const i = base.lastIndexOf('/node_modules/');
      if (i < 0) {
        if (lock.packages[`node_modules/${dep}`]) visit(`node_modules/${dep}`);
        break;
      }
      base = base.slice(0, i);
    }
  }
}
// A development tool may only be imported lazily behind a development-only path (vite, behind
// @tessera/web's ensureWebBuild, which the gateway never calls); anything else a service reaches must be
// a production dependency, or the image (npm ci --omit=dev) would fail at run time.
const DEV_ONLY_LAZY = new Set(['vite']);
const notProduction = [];
for (const pkg of [...thirdParty].sort()) {
  if (DEV_ONLY_LAZY.has(pkg)) {
    thirdParty.delete(pkg);
    continue;
  }
  const meta = lock.packages[`node_modules/${pkg}`];
  if (!meta || meta.dev === true || meta.devOptional === true) notProduction.push(pkg);
  else visit(`node_modules/${pkg}`);
}
if (notProduction.length > 0) {
  console.error(`prune-deps: ${service} imports packages that are not production dependencies: ${notProduction.join(', ')}`);
  process.exit(1);
}

const topKept = new Set([...keep].filter((p) => p.lastIndexOf('node_modules/') === 0).map((p) => p.slice('node_modules/'.length)));
let removed = 0;
const nm = join(root, 'node_modules');
for (const entryName of readdirSync(nm)) {
  if (entryName.startsWith('.')) continue;
  const names = entryName.startsWith('@') ? readdirSync(join(nm, entryName)).map((n) => `${entryName}/${n}`) : [entryName];
  for (const name of names) {
    if (name.startsWith('@tessera/') || topKept.has(name)) continue;
    removed++;
    if (!dry) rmSync(join(nm, name), { recursive: true, force: true });
  }
}
const ortBin = join(nm, 'onnxruntime-node', 'bin', 'napi-v6');
const foreign = [];
if (existsSync(ortBin)) {
  for (const os of readdirSync(ortBin)) {
    for (const arch of readdirSync(join(ortBin, os))) if (`${os}/${arch}` !== 'linux/x64') foreign.push(join(ortBin, os, arch));
  }
  if (!dry) for (const p of foreign) rmSync(p, { recursive: true, force: true });
}
console.log(`prune-deps ${service}: kept ${topKept.size} top-level packages (${[...thirdParty].sort().join(', ')} and their dependencies), removed ${removed}${foreign.length ? `, ${foreign.length} foreign onnxruntime binaries` : ''}${dry ? ' (dry run)' : ''}`);
