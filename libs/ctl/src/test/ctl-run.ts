import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { runCtl } from '../ctl.js';
import { REPO_ROOT } from '../helm-render.js';

export interface CtlRun {
  code: number;
  out: string;
  err: string;
  /** The questions `confirm` was asked, in order. */
  asked: string[];
}

/** `tessera ctl --kubeconfig <kubeconfig> …argv` in this process, stdout and stderr captured; `confirm` answers prompts. */
export async function ctlWith(kubeconfig: string, argv: readonly string[], confirm?: (q: string) => Promise<boolean>): Promise<CtlRun> {
  let out = '';
  let err = '';
  const asked: string[] = [];
  const code = await runCtl(['--kubeconfig', kubeconfig, ...argv], {
    out: (s) => (out += s),
    err: (s) => (err += s),
    env: {},
    ...(confirm && { confirm: (q: string) => (asked.push(q), confirm(q)) }),
  });
  return { code, out, err, asked };
}

/** Streams, and the work-queue consumers of `consumers`, exactly as deploy/nats/ defines them (what `nats stream add --config` sends). */
export async function addDeployStreams(nc: NatsConnection, streams: readonly string[], consumers: readonly string[]): Promise<void> {
  const definition = (file: string) => JSON.parse(readFileSync(join(REPO_ROOT, 'deploy', 'nats', file), 'utf8'));
  const jsm = await nc.jetstreamManager();
  for (const s of streams) await jsm.streams.add(definition(`stream-${s}.json`));
  for (const s of consumers) await jsm.consumers.add(`TESSERA_${s.toUpperCase()}`, definition(`consumer-${s}.json`));
}
