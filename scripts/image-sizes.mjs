#!/usr/bin/env node
// What the service images carry, two ways:
//   node scripts/image-sizes.mjs              from package-lock.json and this checkout's node_modules:
//                                             every package, production only, the largest ones
//   node scripts/image-sizes.mjs --assemble   assembles /app of deploy/Dockerfile's cpu target for each
//                                             service under os.tmpdir() — `npm ci --omit=dev` (offline,
//                                             from the npm cache), the compiled dist/ trees
//                                             (node scripts/build.mjs first), scripts/prune-deps.mjs —
//                                             and prints each service's /app size; with --start it
//                                             also runs each one through deploy/start.sh (plain node, no
//                                             tsx installed) against a nats-server until it is ready.
// No Docker engine runs on the development machines, so the base image is not included: node:*-bookworm-slim
// adds about 200 MB (the cuda target: nvidia/cuda cudnn-runtime, about 3 GB, plus the CUDA provider).
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
console.log(`node_modules, every package (a plain npm ci):      ${mb(sum(rows))} in ${rows.length} packages`);
console.log(`production dependencies only (npm ci --omit=dev): ${mb(sum(prod))} in ${prod.length} packages`);
console.log(`dev tooling left out:                             ${mb(sum(rows) - sum(prod))}`);
console.log('\nlargest production packages:');
for (const r of prod.sort((a, b) => b.bytes - a.bytes).slice(0, 10)) console.log(`  ${mb(r.bytes).padStart(7)}  ${r.name}`);

if (process.argv.includes('--assemble')) await assemble(process.argv.includes('--start'));

async function assemble(start) {
  const SERVICES = ['gateway', 'slicer', 'resampler', 'decoder', 'retrieval', 'feedback', 'combined'];
  for (const s of SERVICES) if (!existsSync(join(root, 'services', s, 'dist', 'main.js'))) throw new Error(`services/${s}/dist/main.js is missing: run node scripts/build.mjs first`);
  const work = mkdtempSync(join(tmpdir(), 'tessera-image-'));
  try {
    // The deps stage: manifests, then npm ci --omit=dev (install scripts skipped, as ONNXRUNTIME_NODE_INSTALL=skip does).
    const base = join(work, 'base');
    const manifests = ['package.json', 'package-lock.json', '.npmrc'];
    for (const group of ['libs', 'services', 'e2e', 'bench']) {
      const dirs = group === 'e2e' || group === 'bench' ? [group] : readdirSync(join(root, group)).map((d) => join(group, d));
      for (const d of dirs) if (existsSync(join(root, d, 'package.json'))) manifests.push(join(d, 'package.json'));
    }
    for (const m of manifests) cpSync(join(root, m), join(base, m));
    execFileSync('npm', ['ci', '--omit=dev', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: base, stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
    console.log(`\nnpm ci --omit=dev: ${mb(du(join(base, 'node_modules')))}`);
    // The build stage's /out: compiled dist/ trees and the protos.
    for (const group of ['libs', 'services']) {
      for (const d of readdirSync(join(root, group))) {
        const dist = join(root, group, d, 'dist');
        if (existsSync(dist)) cpSync(dist, join(base, group, d, 'dist'), { recursive: true });
      }
    }
    cpSync(join(root, 'proto'), join(base, 'proto'), { recursive: true });
    cpSync(join(root, 'scripts', 'prune-deps.mjs'), join(base, 'scripts', 'prune-deps.mjs'));
    cpSync(join(root, 'deploy', 'start.sh'), join(base, 'start.sh'));
    console.log('\nper service image, /app (cpu target; base image not included):');
    const results = [];
    for (const s of SERVICES) {
      const app = join(work, s);
      execFileSync('cp', ['-a', '-l', base, app]); // hard links: each service's prune removes only its own
      execFileSync(process.execPath, [join(app, 'scripts', 'prune-deps.mjs'), s], { stdio: ['ignore', 'ignore', 'inherit'] });
      rmSync(join(app, 'scripts'), { recursive: true });
      const size = du(app);
      const nm = du(join(app, 'node_modules'));
      let ready = '';
      if (start) ready = (await startOnce(app, s)) ? '  starts (tessera-ready)' : '  DID NOT START';
      results.push({ s, size, nm, ready });
      console.log(`  ${s.padEnd(10)} ${mb(size).padStart(7)}  (node_modules ${mb(nm)})${ready}`);
      rmSync(app, { recursive: true, force: true });
    }
    if (start && results.some((r) => r.ready.includes('NOT'))) process.exitCode = 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Runs the assembled service like the image does (start.sh, plain node) against a fresh nats-server. */
async function startOnce(app, service) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-start-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const nats = spawn(process.env.NATS_SERVER_BIN ?? 'nats-server', ['-js', '-p', String(port), '-sd', join(dir, 'js')], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  writeFileSync(join(dir, 'keys.json'), '{"keys":[]}');
  const env = {
    PATH: process.env.PATH, HOME: dir, TESSERA_SERVICE: service, NATS_URL: `nats://127.0.0.1:${port}`,
    TESSERA_GRPC_PORT: '0', TESSERA_METRICS_PORT: '0', TESSERA_HTTP_PORT: '0', TESSERA_DATA_DIR: join(dir, 'data'),
    // The combined image's stages take their ports only under their own prefix (services/combined).
    SLICER__TESSERA_GRPC_PORT: '0', RESAMPLER__TESSERA_GRPC_PORT: '0', DECODER__TESSERA_GRPC_PORT: '0',
    TESSERA_FEEDBACK_DIR: join(dir, 'fb'), TESSERA_RETRIEVAL_DIR: join(dir, 'rt'), TESSERA_GATEWAY_API_KEYS_FILE: join(dir, 'keys.json'),
    ...(process.env.TESSERA_MODEL_DIR && { TESSERA_MODEL_DIR: process.env.TESSERA_MODEL_DIR }),
  };
  const child = spawn(join(app, 'start.sh'), [], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const ok = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 240_000);
    const on = (b) => {
      out += b;
      if (/^tessera-ready /m.test(out)) { clearTimeout(timer); resolve(true); }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', () => { clearTimeout(timer); resolve(/^tessera-ready /m.test(out)); });
  });
  if (!ok) console.error(out.slice(-3000));
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
  nats.kill();
  rmSync(dir, { recursive: true, force: true });
  return ok;
}
