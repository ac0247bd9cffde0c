import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run, summary } from './ctl.js';

// The thin command only wires @tessera/ctl to the process streams; libs/ctl/src/ctl.test.ts covers
// the behaviour against a fake API server. Here: exit status and stderr through the real entry.
describe('tessera ctl command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-ctl-'));
  afterEach(() => vi.restoreAllMocks());

  it('has a summary and prints usage with --help (exit 0)', async () => {
    expect(summary).toMatch(/status, describe, scale/);
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(await run(['--help'])).toBe(0);
    expect(String(out.mock.calls[0]?.[0])).toContain('usage: tessera ctl <command>');
  });

  it('an unreachable cluster exits 1 with the reason on stderr', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:1", insecure-skip-tls-verify: true}}]\n' +
        'users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await run(['status', '--kubeconfig', kubeconfig])).toBe(1);
    expect(String(err.mock.calls[0]?.[0])).toMatch(/^tessera ctl: list deployments in namespace "default": cannot reach the Kubernetes API server at http:\/\/127\.0\.0\.1:1/);
    rmSync(dir, { recursive: true, force: true });
  });
});
