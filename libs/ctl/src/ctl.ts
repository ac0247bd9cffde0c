import { ErrorCode, TesseraError } from '@tessera/errors';
import { dump } from 'js-yaml';
import { parseArgs, parseDuration, parseNonNegativeInt, type ParsedArgs } from './args.js';
import { setAutoscalePaused } from './autoscale.js';
import { formatStatus } from './format-status.js';
import { connect } from './kube.js';
import { stageLogs } from './logs.js';
import { restartStage } from './restart.js';
import { scaleStage } from './scale.js';
import { parseStage, STAGE_NAMES } from './stages.js';
import { collectStatus } from './status.js';
import { describeStage, formatDescription } from './describe.js';
import { drainNode, inspectNode, setSchedulable } from './nodes.js';
import { rolloutStatus, rolloutUndo } from './rollout.js';
import { collectSites, formatSites } from './sites.js';

export const CTL_SUMMARY = 'operate a Kubernetes deployment: status, describe, scale, autoscale, restart, rollout, logs, cordon/drain GPU nodes; edge sites';

export const CTL_USAGE = `usage: tessera ctl <command> [flags]

commands:
  status                          per stage: ready/desired replicas, autoscaler, JetStream backlog,
                                  model revision; GPU nodes and allocatable GPUs
  scale STAGE N                   set a stage's replicas (Deployment scale subresource)
  autoscale pause STAGE [--replicas N]
                                  hold a stage at N (default: current) replicas: KEDA paused-replicas
                                  annotation, or an HPA pinned to min=max=N
  autoscale resume STAGE          give the stage back to its autoscaler
  restart STAGE                   rollout restart (pod template annotation kubectl.kubernetes.io/restartedAt)
  rollout status STAGE [--timeout 5m] [--no-wait]
                                  wait until the stage's rollout is done (exit 0), failed its
                                  progress deadline or timed out (exit 1)
  rollout undo STAGE [--to-revision N]
                                  roll the pod template back to the previous (or Nth) revision
  describe STAGE                  deployment, rollout, autoscaler, pods (node, IP, model revision)
                                  and the events of the deployment, its replica sets and pods
  cordon NODE [--yes]             mark a GPU node unschedulable (asks to confirm)
  uncordon NODE                   make it schedulable again
  drain NODE [--yes] [--timeout 5m]
                                  cordon, then evict its pods through the Eviction API (budgets hold)
  logs STAGE [--tail N] [--since 10m] [--pod NAME] [--previous] [--timestamps] [-f]
  sites [--feedback-metrics URL]  edge sites from the hub's NATS monitoring endpoint (--nats-monitor):
                                  link state, feedback backlog, models per site (no cluster access);
                                  with the hub feedback service's /metrics (default
                                  $TESSERA_FEEDBACK_METRICS_URL), the events each site dropped

STAGE: ${STAGE_NAMES.join(', ')}

flags (like kubectl):
  --kubeconfig PATH      kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --context NAME         kubeconfig context
  -n, --namespace NS     namespace (default: the context's, else "default")
  --release NAME         Helm release (default: $TESSERA_RELEASE, else the only one in the namespace)
  --nats-service SVC     NATS monitoring Service for backlog, NAME[.NAMESPACE]:PORT, read through the
                         API server's service proxy (no port-forward; RBAC get services/proxy)
                         (default: $TESSERA_NATS_SERVICE, else the chart's KEDA trigger endpoint,
                         else nats:8222)
  --nats-monitor URL     read backlog from this monitoring URL directly instead, e.g.
                         http://127.0.0.1:8222 (default: $TESSERA_NATS_MONITOR_URL)
  --nats-account NAME    JetStream account (default: $TESSERA_NATS_ACCOUNT, else for status "$G",
                         for sites the account holding the feedback stream that sources sites)
  -o, --output FORMAT    table (default), wide (status: images and nodes), json or yaml
  --request-timeout D    per API request (default 30s)

exit status: 0 ok, 1 failed (cluster unreachable, forbidden, not found), 2 bad usage`;

export interface CtlIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Asks a yes/no question on a terminal; absent when there is none (then --yes is required). */
  confirm?(question: string): Promise<boolean>;
}

function emit(io: CtlIo, args: ParsedArgs, json: unknown, text: string): void {
  const { output } = args.global;
  io.out(output === 'json' ? `${JSON.stringify(json, null, 2)}\n` : output === 'yaml' ? dump(JSON.parse(JSON.stringify(json)) as unknown, { noRefs: true, lineWidth: -1 }) : `${text}\n`);
}

async function dispatch(args: ParsedArgs, io: CtlIo): Promise<number> {
  const [command, ...rest] = args.positionals;
  const g = args.global;
  if (!command || args.flags.help) {
    io.out(`${CTL_USAGE}\n`);
    return command || args.flags.help ? 0 : 2;
  }
  switch (command) {
    case 'status': {
      const kube = connect(g);
      const s = await collectStatus(kube, { release: g.release, natsMonitor: g.natsMonitor, natsService: g.natsService, natsAccount: g.natsAccount ?? '$G', gpuResource: 'nvidia.com/gpu', gpuNodeLabel: 'nvidia.com/gpu.present', timeoutMs: g.requestTimeoutMs });
      emit(io, args, s, formatStatus(s, g.output === 'wide'));
      return 0;
    }
    case 'scale': {
      const stage = parseStage(rest[0]);
      const replicas = parseNonNegativeInt('N', rest[1], 1000);
      const r = await scaleStage(connect(g), g.release, stage, replicas);
      for (const w of r.warnings) io.err(`warning: ${w}\n`);
      emit(io, args, r, `${r.stage}: deployment ${r.deployment} scaled ${r.previous} -> ${r.replicas}`);
      return 0;
    }
    case 'autoscale': {
      const action = rest[0];
      if (action !== 'pause' && action !== 'resume') throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `autoscale needs "pause" or "resume" (got "${action ?? ''}")`, { field: 'autoscale' });
      const stage = parseStage(rest[1]);
      const replicas = args.flags.replicas !== undefined ? parseNonNegativeInt('replicas', String(args.flags.replicas), 1000) : undefined;
      const r = await setAutoscalePaused(connect(g), g.release, stage, action === 'pause', replicas);
      emit(io, args, r, r.message);
      return 0;
    }
    case 'restart': {
      const r = await restartStage(connect(g), g.release, parseStage(rest[0]));
      emit(io, args, r, `${r.stage}: deployment ${r.deployment} restarted at ${r.restartedAt}${r.replicas === 0 ? ' (0 replicas: pods start with the new template when scaled up)' : ''}`);
      return 0;
    }
    case 'logs': {
      const stage = parseStage(rest[0]);
      const f = args.flags;
      await stageLogs(
        connect(g),
        stage,
        {
          release: g.release,
          tailLines: f.tail !== undefined ? parseNonNegativeInt('tail', String(f.tail), 100_000) : 100,
          ...(f.since !== undefined && { sinceSeconds: Math.max(1, Math.round(parseDuration('since', String(f.since)) / 1000)) }),
          previous: f.previous === true,
          timestamps: f.timestamps === true,
          follow: f.follow === true,
          ...(f.pod !== undefined && { pod: String(f.pod) }),
        },
        (line) => io.out(line),
      );
      return 0;
    }
    case 'rollout': {
      const action = rest[0];
      if (action !== 'status' && action !== 'undo') throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `rollout needs "status" or "undo" (got "${action ?? ''}")`, { field: 'rollout' });
      const stage = parseStage(rest[1]);
      if (action === 'undo') {
        const to = args.flags['to-revision'] !== undefined ? parseNonNegativeInt('to-revision', String(args.flags['to-revision']), 1_000_000) : undefined;
        const r = await rolloutUndo(connect(g), g.release, stage, to);
        emit(io, args, r, `${r.stage}: deployment ${r.deployment} rolled back from revision ${r.from} to ${r.to}${r.modelRevision ? ` (model revision ${r.modelRevision})` : ''}`);
        return 0;
      }
      const timeoutMs = parseDuration('timeout', String(args.flags.timeout ?? '5m'));
      const json = g.output === 'json' || g.output === 'yaml';
      const r = await rolloutStatus(connect(g), g.release, stage, { timeoutMs, watch: args.flags['no-wait'] !== true, onProgress: (st) => !json && st.phase !== 'done' && io.out(`${st.stage}: waiting for rollout: ${st.message}\n`) });
      emit(io, args, r, `${r.stage}: ${r.message}`);
      return 0;
    }
    case 'describe': {
      const d = await describeStage(connect(g), g.release, parseStage(rest[0]));
      emit(io, args, d, formatDescription(d));
      return 0;
    }
    case 'cordon':
    case 'uncordon':
    case 'drain': {
      const kube = connect(g);
      const t = await inspectNode(kube, rest[0], { gpuNodeLabel: 'nvidia.com/gpu.present', gpuResource: 'nvidia.com/gpu' });
      if (command !== 'uncordon') {
        const what = command === 'drain' ? `drain GPU node ${t.node} (${t.gpus} GPU(s)): cordon it and evict ${t.evictable.length} pod(s)${t.evictable.length ? `: ${t.evictable.map((p) => `${p.namespace}/${p.name}`).join(', ')}` : ''}` : `cordon GPU node ${t.node} (${t.gpus} GPU(s)): no new pods will be scheduled on it`;
        if (args.flags.yes !== true) {
          if (!io.confirm) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${command} changes the cluster and needs confirmation: pass --yes (no terminal to ask on)`, { field: 'yes' });
          if (!(await io.confirm(`${what}. Continue? [y/N] `))) {
            io.err('aborted: nothing changed\n');
            return 1;
          }
        }
      }
      if (command === 'drain') {
        const timeoutMs = parseDuration('timeout', String(args.flags.timeout ?? '5m'));
        const r = await drainNode(kube, t, { timeoutMs, onEvicted: (p) => g.output === 'table' && io.out(`evicted pod ${p}\n`) });
        emit(io, args, { node: t.node, cordoned: true, ...r }, `node ${t.node} drained (${r.evicted.length} pod(s) evicted${r.blocked.length ? `; ${r.blocked.length} waited for a disruption budget` : ''})`);
        return 0;
      }
      await setSchedulable(kube, t.node, command === 'uncordon');
      emit(io, args, { node: t.node, schedulable: command === 'uncordon' }, `node ${t.node} ${command === 'uncordon' ? 'uncordoned' : 'cordoned'}`);
      return 0;
    }
    case 'sites': {
      const feedbackMetrics = (args.flags['feedback-metrics'] as string | undefined) ?? (io.env.TESSERA_FEEDBACK_METRICS_URL || undefined);
      const sites = await collectSites({ natsMonitor: g.natsMonitor, ...(g.natsAccount && { account: g.natsAccount }), ...(feedbackMetrics && { feedbackMetrics }), timeoutMs: g.requestTimeoutMs });
      emit(io, args, sites, formatSites(sites));
      return 0;
    }
    default:
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `unknown command "${command}": expected status, describe, scale, autoscale, restart, rollout, logs, cordon, uncordon, drain or sites`, { field: 'command' });
  }
}

/**
 * Runs `tessera ctl …` and returns the exit status: 0 ok, 2 bad usage (the message says which
 * argument), 1 anything the cluster refused or could not answer.
 */
export async function runCtl(argv: readonly string[], io: CtlIo): Promise<number> {
  try {
    return await dispatch(parseArgs(argv, io.env), io);
  } catch (err) {
    const e = TesseraError.from(err);
    const detail = e.code === ErrorCode.INTERNAL && err instanceof Error && !(err instanceof TesseraError) ? `: ${err.message}` : '';
    io.err(`tessera ctl: ${e.message}${detail}\n`);
    if (e.code === ErrorCode.INVALID_ARGUMENT && isUsage(e)) io.err(`run "tessera ctl --help" for usage\n`);
    return e.code === ErrorCode.INVALID_ARGUMENT && isUsage(e) ? 2 : 1;
  }
}

/** Argument errors found before any API call (a 422 from the server is also INVALID_ARGUMENT, but not usage). */
function isUsage(e: TesseraError): boolean {
  return !/\(422\)/.test(e.message);
}
