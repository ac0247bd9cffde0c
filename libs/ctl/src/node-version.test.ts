/**
 * One Node version everywhere (issue 17, Node 22 LTS): .nvmrc is what scripts/ensure-node.sh installs
 * when the machine's node is older, every Dockerfile's NODE_IMAGE default is the same release, and it
 * satisfies package.json `engines` (as recorded in package-lock.json, so `npm ci` leaves it alone).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helm-render.js';

const read = (...p: string[]) => readFileSync(join(REPO_ROOT, ...p), 'utf8');
const nvmrc = read('.nvmrc').trim().replace(/^v/, '');
const parse = (v: string) => v.split('.').map(Number) as [number, number, number];

/** Every Dockerfile of the repo: deploy/<service>/Dockerfile and a top-level one, if present. */
function dockerfiles(): string[] {
  const out = readdirSync(join(REPO_ROOT, 'deploy'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(REPO_ROOT, 'deploy', d.name, 'Dockerfile')))
    .map((d) => join('deploy', d.name, 'Dockerfile'));
  for (const f of ['Dockerfile', join('deploy', 'Dockerfile')]) if (existsSync(join(REPO_ROOT, f))) out.push(f);
  return out;
}

describe('Node version', () => {
  it('.nvmrc is a Node 22 LTS release at or above the engines floor, recorded identically in the lockfile', () => {
    expect(nvmrc).toMatch(/^22\.\d+\.\d+$/);
    const pkg = JSON.parse(read('package.json')) as { engines: { node: string } };
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { engines?: { node: string } }> };
    expect(lock.packages['']!.engines).toEqual(pkg.engines);
    const floor = /^>=(\d+\.\d+(?:\.\d+)?)$/.exec(pkg.engines.node);
    expect(floor, `engines.node "${pkg.engines.node}" should be a plain ">=22.x" floor`).not.toBeNull();
    const [a, b, c = 0] = floor![1]!.split('.').map(Number);
    const [x, y, z] = parse(nvmrc);
    expect(a).toBe(22);
    expect(x > a! || (x === a && (y > b! || (y === b && z >= c)))).toBe(true);
  });

  it('@types/node describes the same Node major (the types of the runtime the code runs on)', () => {
    const pkg = JSON.parse(read('package.json')) as { devDependencies: Record<string, string> };
    const types = pkg.devDependencies['@types/node'];
    expect(types, '@types/node should be pinned exactly').toMatch(/^\d+\.\d+\.\d+$/);
    expect(parse(types!)[0]).toBe(parse(nvmrc)[0]);
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version?: string }> };
    expect(lock.packages['node_modules/@types/node']!.version).toBe(types);
  });

  it('every Dockerfile defaults to the same Node release (a pinned tag, not a floating one)', () => {
    const files = dockerfiles();
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const images = [...read(f).matchAll(/^ARG NODE_IMAGE=node:(\S+)$/gm)].map((m) => m[1]);
      expect(images, f).toHaveLength(1);
      expect(images[0], f).toMatch(new RegExp(`^${nvmrc.replace(/\./g, '\\.')}-`));
    }
  });

  it('the README commands install Node 22 when the machine has an older one', () => {
    for (const s of ['scripts/test-all.sh', 'scripts/demo.sh']) expect(read(s), s).toMatch(/^source scripts\/ensure-node\.sh$/m);
    expect(read('scripts/ensure-node.sh')).toContain('.nvmrc');
  });
});
