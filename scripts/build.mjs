#!/usr/bin/env node
// Compiles the services and the libraries they import to JavaScript, once, with tsc
// (tsconfig.build.json), and places each package's output in <package>/dist/ mirroring src/
// (so paths computed from import.meta.url, like the proto root, resolve the same from both).
// Production runs `node --conditions=tessera-dist services/<name>/dist/main.js`: the condition makes
// every @tessera/* package resolve to dist/index.js instead of src/index.ts (package.json exports),
// so containers run no TypeScript loader. Development, tests and the typecheck keep resolving src/.
//   node scripts/build.mjs            (the Dockerfile's build stage runs it; ~1 min on 2 cores)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, '.build');
rmSync(out, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });

let packages = 0;
for (const group of ['libs', 'services']) {
  const dir = join(out, group);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir)) {
    const emitted = join(dir, name, 'src');
    if (!existsSync(emitted)) continue;
    const dist = join(root, group, name, 'dist');
    // dist/app is reserved for a bundled browser app (libs/web's Vite build); everything else is ours.
    if (existsSync(dist)) for (const e of readdirSync(dist)) if (e !== 'app') rmSync(join(dist, e), { recursive: true, force: true });
    mkdirSync(dist, { recursive: true });
    for (const e of readdirSync(emitted)) renameSync(join(emitted, e), join(dist, e));
    packages++;
  }
}
rmSync(out, { recursive: true, force: true });
console.log(`build: ${packages} packages compiled to <package>/dist/`);
