import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnCommand } from '@tessera/testing';
import { withNats } from '@tessera/testing/vitest';
import { REPO_ROOT } from './helm-render.js';

// What deploy/Dockerfile's stages run, without a Docker engine: the tsc build (scripts/build.mjs), the
// production-dependency check and prune plan of each service (scripts/prune-deps.mjs --dry-run, which
// fails when a service's compiled import graph reaches a devDependency), and one compiled service
// started the way the image starts it (deploy/start.sh: plain node, the tessera-dist condition).
// `node scripts/image-sizes.mjs --assemble --start` goes further (npm ci --omit=dev, all six started).
// Asynchronous: a minute-long synchronous child would block the test worker's RPC with vitest.
const run = promisify(execFile);
const SERVICES = ['gateway', 'slicer', 'resampler', 'decoder', 'retrieval', 'feedback', 'combined'];

describe('compiled services (the image build without Docker)', () => {
  const bus = withNats();
  beforeAll(async () => {
    await run(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], { cwd: REPO_ROOT });
  }, 600_000);

  it('tsc emits every service entry and the preprocessing worker, no TypeScript left in dist/', () => {
    for (const s of SERVICES) expect(existsSync(join(REPO_ROOT, 'services', s, 'dist', 'main.js')), s).toBe(true);
    expect(existsSync(join(REPO_ROOT, 'libs', 'vision', 'dist', 'preprocess-worker-main.js'))).toBe(true);
    const ts = readdirSync(join(REPO_ROOT, 'services', 'gateway', 'dist'), { recursive: true }).filter((f) => String(f).endsWith('.ts'));
    expect(ts).toEqual([]);
  });

  it.each(SERVICES)('%s reaches only production dependencies', async (s) => {
    const { stdout: out } = await run(process.execPath, [join(REPO_ROOT, 'scripts', 'prune-deps.mjs'), s, '--dry-run'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(out).toMatch(new RegExp(`^prune-deps ${s}: kept \\d+ top-level packages`));
  });

  it('feedback starts from dist/ through deploy/start.sh with plain node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-image-build-'));
    try {
      const child = await spawnCommand(join(REPO_ROOT, 'deploy', 'start.sh'), [], {
        cwd: REPO_ROOT,
        env: { TESSERA_SERVICE: 'feedback', NATS_URL: bus.server.url, TESSERA_GRPC_PORT: '0', TESSERA_METRICS_PORT: '0', TESSERA_DATA_DIR: dir, NODE_OPTIONS: '' },
        readyPattern: /^tessera-ready /,
        readyTimeoutMs: 120_000,
      });
      expect(await child.terminate()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
