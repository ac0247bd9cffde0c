/**
 * The gateway image must not carry onnxruntime (issue 14: ≈ 45 MB after the prune, plus what only it
 * needs): the gateway takes the tokenizer, chat template and manifest from `@tessera/model/text`, not
 * from the package index that also opens ONNX sessions. This walks the gateway's production import
 * graph from src/main.ts the way scripts/prune-deps.mjs walks the compiled one (type-only imports
 * are erased by tsc, so they are skipped here too) and lists the third-party packages it reaches.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');

function workspaceDirs(): Map<string, string> {
  const out = new Map<string, string>();
  for (const group of ['libs', 'services']) {
    for (const name of readdirSafe(join(ROOT, group))) {
      const pj = join(ROOT, group, name, 'package.json');
      if (existsSync(pj)) out.set((JSON.parse(readFileSync(pj, 'utf8')) as { name: string }).name, join(ROOT, group, name));
    }
  }
  return out;
}
function readdirSafe(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}

/** Value imports only: `import type` / `export type` lines are erased by tsc. */
const SPECIFIERS = [/^\s*(?:import|export)\s+(?!type\s)[^'"]*?from\s*['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];

function thirdPartyReached(entry: string): Set<string> {
  const ws = workspaceDirs();
  const seen = new Set<string>();
  const out = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const re of SPECIFIERS) {
      for (const m of text.matchAll(re)) {
        const spec = m[1]!;
        if (spec.startsWith('node:')) continue;
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          const ts = target.replace(/\.js$/, '.ts');
          if (existsSync(ts) && statSync(ts).isFile()) queue.push(ts);
          else if (existsSync(join(target, 'index.ts'))) queue.push(join(target, 'index.ts'));
          continue;
        }
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        const dir = ws.get(pkg);
        if (!dir) {
          out.add(pkg);
          continue;
        }
        const exp = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports: Record<string, { default: string }> }).exports[`.${spec.slice(pkg.length)}`];
        if (!exp) throw new Error(`${file}: ${spec} is not an export of ${pkg}`);
        queue.push(join(dir, exp.default));
      }
    }
  }
  return out;
}

describe('the gateway image', () => {
  it('reaches the tokenizer and chat template but not onnxruntime', () => {
    const reached = thirdPartyReached(join(ROOT, 'services/gateway/src/main.ts'));
    expect(reached.has('@huggingface/jinja')).toBe(true); // the walk does follow @tessera/model/text
    expect(reached.has('sharp')).toBe(true); // image headers at admission
    expect([...reached].filter((p) => p.startsWith('onnxruntime'))).toEqual([]);
  });
});
