import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helm-render.js';

// No Docker engine here, so deploy/Dockerfile is not built in tests; this checks the invariants the
// chart relies on (non-root UID 10001, one image per service from one Dockerfile, cpu + cuda targets),
// and image-build.test.ts builds and runs what the Dockerfile's stages run.
const SERVICES = ['gateway', 'slicer', 'resampler', 'decoder', 'retrieval', 'feedback', 'combined'];
const text = readFileSync(join(REPO_ROOT, 'deploy', 'Dockerfile'), 'utf8');
const stages = (): string[] => [...text.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]!);

describe('deploy/Dockerfile (one for every service)', () => {
  it('is multi-stage: build (tsc), production deps of one service, cpu and cuda runtimes', () => {
    expect(stages()).toEqual(['build', 'deps', 'deps-cuda', 'cuda', 'cpu']);
    expect(text).toMatch(/^RUN node scripts\/build\.mjs/m);
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text).toMatch(/^RUN node scripts\/prune-deps\.mjs "\$\{SERVICE\}"$/m);
    expect(text).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 node script\/install\.js/);
  });

  it('runs compiled JavaScript as UID 10001 through start.sh, never tsx', () => {
    const runtimes = text.split(/^FROM /m).filter((s) => /ENTRYPOINT/.test(s));
    expect(runtimes).toHaveLength(2);
    for (const r of runtimes) {
      expect(r).toMatch(/^USER 10001:10001$/m);
      expect(r).toContain('ENTRYPOINT ["./start.sh"]');
      expect(r).toMatch(/TESSERA_SERVICE=\$\{SERVICE\}/);
      expect(r).not.toMatch(/tsx|src\/main\.ts/);
    }
    expect(runtimes[0]).toMatch(/TESSERA_EXECUTION_PROVIDER=cuda/);
    expect(runtimes[1]).toMatch(/TESSERA_EXECUTION_PROVIDER=cpu/);
    const start = readFileSync(join(REPO_ROOT, 'deploy', 'start.sh'), 'utf8');
    expect(start).toContain('exec node --conditions=tessera-dist --enable-source-maps "services/${TESSERA_SERVICE}/dist/main.js"');
  });

  it.each(SERVICES)('%s: its package resolves to dist/ under the tessera-dist condition and to src/ otherwise', (name) => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'services', name, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(pkg.exports['.']).toEqual({ 'tessera-dist': './dist/index.js', default: './src/index.ts' });
  });
});
