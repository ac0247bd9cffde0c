/**
 * Module boundaries from the Nx tags in each project.json, enforced on every import of a
 * `@tessera/*` package in production code (tests, benchmarks and tools may import anything).
 * The same rules `@nx/enforce-module-boundaries` would apply, without an ESLint toolchain in CI.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** type tag → the type tags it may depend on. */
const ALLOWED: Record<string, readonly string[]> = {
  'type:contracts': [],
  // The built playground: static assets the gateway serves (it imports only its dist path).
  'type:ui': [],
  'type:util': ['type:util', 'type:contracts'],
  'type:runtime': ['type:util', 'type:contracts'],
  'type:testing': ['type:runtime', 'type:util', 'type:contracts'],
  'type:domain': ['type:domain', 'type:runtime', 'type:util', 'type:contracts'],
  'type:service': ['type:domain', 'type:runtime', 'type:util', 'type:contracts', 'type:ui'],
  'type:feature': ['type:domain', 'type:runtime', 'type:util', 'type:contracts'],
  'type:app': ['type:app', 'type:ui', 'type:feature', 'type:service', 'type:domain', 'type:runtime', 'type:util', 'type:contracts', 'type:testing'],
  'type:e2e': ['type:app', 'type:ui', 'type:feature', 'type:service', 'type:domain', 'type:runtime', 'type:util', 'type:contracts', 'type:testing'],
};

interface Project {
  name: string;
  root: string;
  type: string;
}

function projects(): Map<string, Project> {
  const out = new Map<string, Project>();
  for (const base of ['libs', 'services', '.']) {
    const dirs = base === '.' ? ['e2e'] : readdirSync(join(ROOT, base)).map((d) => join(base, d));
    for (const dir of dirs) {
      try {
        const pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as { name: string };
        const proj = JSON.parse(readFileSync(join(ROOT, dir, 'project.json'), 'utf8')) as { tags: string[] };
        const type = proj.tags.find((t) => t.startsWith('type:'));
        if (type) out.set(pkg.name, { name: pkg.name, root: dir, type });
      } catch {
        /* not a project */
      }
    }
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry === 'gen') continue;
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts)$/.test(entry) && !/\.test\.ts$/.test(entry) && !/(^|\/)test\//.test(relative(ROOT, p))) out.push(p);
  }
  return out;
}

/** `@tessera/<name>` or a subpath export of it (`@tessera/model/text`): the package is what counts. */
const IMPORT = /(?:from\s+|import\(\s*)['"](@tessera\/[a-z0-9-]+)(?:\/[a-z0-9/-]+)?['"]/g;
/** A relative import into an `adapters/` folder. */
const ADAPTER_IMPORT = /(?:from\s+|import\(\s*)['"](\.{1,2}\/[^'"]*\badapters\/[^'"]*)['"]/g;

describe('module boundaries (Nx type tags)', () => {
  const all = projects();
  it('knows every project and its type', () => {
    expect(all.size).toBeGreaterThanOrEqual(15);
    for (const p of all.values()) expect(ALLOWED[p.type], `${p.name} has unknown tag ${p.type}`).toBeDefined();
  });

  it('production code imports only packages its type may depend on, and no other service', () => {
    const violations: string[] = [];
    for (const p of all.values()) {
      const src = join(ROOT, p.root, 'src');
      let files: string[] = [];
      try {
        files = sourceFiles(src);
      } catch {
        continue;
      }
      for (const file of files) {
        for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
          const target = all.get(m[1]!);
          if (!target || target.name === p.name) continue;
          const ok = ALLOWED[p.type]!.includes(target.type) && !(p.type === 'type:service' && target.type === 'type:service');
          if (!ok) violations.push(`${relative(ROOT, file)}: ${p.name} (${p.type}) → ${target.name} (${target.type})`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('the model libraries import the transport runtime only where they store through it (errors and sha256Hex come from the @tessera/errors leaf)', () => {
    // The vision stores are object-store adapters (claim checks); nothing else in model, vision or structured needs NATS.
    const STORES = new Set(['libs/vision/src/encoder-cache.ts', 'libs/vision/src/image-store.ts']);
    const violations: string[] = [];
    for (const name of ['@tessera/model', '@tessera/vision', '@tessera/structured']) {
      const p = all.get(name);
      expect(p, name).toBeDefined();
      for (const file of sourceFiles(join(ROOT, p!.root, 'src'))) {
        if (STORES.has(relative(ROOT, file))) continue;
        for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) if (m[1] === '@tessera/runtime') violations.push(relative(ROOT, file));
      }
    }
    expect(violations).toEqual([]);
  });

  it("a service's domain/ defines the interfaces its adapters/ implement, and never imports an adapter", () => {
    const violations: string[] = [];
    for (const p of all.values()) {
      if (p.type !== 'type:service') continue;
      let files: string[] = [];
      try {
        files = sourceFiles(join(ROOT, p.root, 'src', 'domain'));
      } catch {
        continue;
      }
      for (const file of files) for (const m of readFileSync(file, 'utf8').matchAll(ADAPTER_IMPORT)) violations.push(`${relative(ROOT, file)} → ${m[1]}`);
    }
    expect(violations).toEqual([]);
  });
});
