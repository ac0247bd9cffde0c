import { Writable } from 'node:stream';
import { Log } from '@kubernetes/client-node';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { findStage } from './find-deployments.js';
import type { Kube } from './kube.js';
import { kubeError } from './kube-errors.js';
import { LABEL_COMPONENT, LABEL_INSTANCE, LABEL_PART_OF, type StageInfo } from './stages.js';

export interface LogsOptions {
  release?: string;
  tailLines: number;
  sinceSeconds?: number;
  previous: boolean;
  timestamps: boolean;
  follow: boolean;
  pod?: string;
}

/** Prefixes each complete line with `[pod] ` (several pods interleave when following). */
class PrefixLines extends Writable {
  private rest = '';
  constructor(
    private readonly prefix: string,
    private readonly out: (s: string) => void,
  ) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    const text = this.rest + chunk.toString('utf8');
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    for (const l of lines) this.out(`${this.prefix}${l}\n`);
    done();
  }
  override _final(done: () => void): void {
    if (this.rest) this.out(`${this.prefix}${this.rest}\n`);
    done();
  }
}

/** Logs of a stage's pods (all of them, or --pod), each line prefixed with its pod's name. */
export async function stageLogs(kube: Kube, stage: StageInfo, opts: LogsOptions, write: (s: string) => void): Promise<number> {
  const { release } = await findStage(kube, opts.release, stage);
  const pods = await kube.call(`list ${stage.name} pods`, () =>
    kube.core.listNamespacedPod({ namespace: kube.namespace, labelSelector: `${LABEL_PART_OF}=tessera,${LABEL_INSTANCE}=${release},${LABEL_COMPONENT}=${stage.name}` }),
  );
  let names = pods.items.map((p) => p.metadata?.name ?? '').filter(Boolean).sort();
  if (opts.pod) {
    if (!names.includes(opts.pod)) throw new TesseraError(ErrorCode.NOT_FOUND, `pod "${opts.pod}" is not a ${stage.name} pod (pods: ${names.join(', ') || 'none'})`, { field: 'pod' });
    names = [opts.pod];
  }
  if (names.length === 0) throw new TesseraError(ErrorCode.NOT_FOUND, `${stage.name} has no pods in namespace "${kube.namespace}" (scaled to zero?)`, { field: 'STAGE' });
  const common = {
    container: stage.name,
    tailLines: opts.tailLines,
    previous: opts.previous,
    timestamps: opts.timestamps,
    ...(opts.sinceSeconds !== undefined && { sinceSeconds: opts.sinceSeconds }),
  };
  if (!opts.follow) {
    for (const pod of names) {
      const text = await kube.call(`read logs of pod "${pod}"`, () => kube.core.readNamespacedPodLog({ name: pod, namespace: kube.namespace, ...common }));
      const sink = new PrefixLines(`[${pod}] `, write);
      sink.end(String(text ?? ''));
      await new Promise<void>((r) => sink.on('finish', r));
    }
    return names.length;
  }
  const log = new Log(kube.config);
  await Promise.all(
    names.map(async (pod) => {
      const sink = new PrefixLines(`[${pod}] `, write);
      const finished = new Promise<void>((r) => sink.on('finish', r));
      try {
        await log.log(kube.namespace, pod, stage.name, sink, { ...common, follow: true });
      } catch (err) {
        throw kubeError(err, `follow logs of pod "${pod}"`, kube.server);
      }
      await finished;
    }),
  );
  return names.length;
}
