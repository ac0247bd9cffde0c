import { invalidArgument } from '@tessera/errors';

/** Flags shared by every `tessera ctl` command, named like kubectl's where kubectl has one. */
export interface GlobalOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  release?: string;
  natsMonitor?: string;
  natsService?: string;
  /** Unset: `status` reads "$G" (nats-server's default account); `sites` finds the hub's account. */
  natsAccount?: string;
  output: 'table' | 'wide' | 'json' | 'yaml';
  /** Per API request, milliseconds (kubectl --request-timeout). */
  requestTimeoutMs: number;
}

export interface ParsedArgs {
  global: GlobalOptions;
  /** Command-specific flags (`--tail 50`, `--follow`, `--replicas 2`). */
  flags: Record<string, string | true>;
  positionals: string[];
}

/** Flags that take a value; every other `--x` is a boolean switch. */
const VALUE_FLAGS = new Set(['kubeconfig', 'context', 'namespace', 'release', 'nats-monitor', 'nats-service', 'nats-account', 'output', 'request-timeout', 'tail', 'since', 'replicas', 'pod', 'container', 'timeout', 'to-revision', 'feedback-metrics']);
const SHORT: Record<string, string> = { n: 'namespace', o: 'output', f: 'follow' };
const BOOL_FLAGS = new Set(['follow', 'previous', 'timestamps', 'help', 'yes', 'no-wait']);

/** `30s`, `2m`, `500ms`, `1h` or plain seconds → milliseconds. */
export function parseDuration(field: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw invalidArgument(field, `--${field} must be a duration like 30s, 2m or 1h (got "${value}")`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

export function parseNonNegativeInt(field: string, value: string | undefined, max = 10_000): number {
  if (value === undefined || !/^\d+$/.test(value)) throw invalidArgument(field, `${field} must be a whole number 0..${max} (got "${value ?? ''}")`, `0 <= ${field} <= ${max}`);
  const n = Number(value);
  if (n > max) throw invalidArgument(field, `${field} must be at most ${max} (got ${n})`, `${field} <= ${max}`);
  return n;
}

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedArgs {
  const flags: Record<string, string | true> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let value: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      if (eq >= 0) value = arg.slice(eq + 1);
    } else if (/^-[a-zA-Z]/.test(arg)) {
      const short = SHORT[arg[1]!];
      if (!short) throw invalidArgument(arg, `unknown flag ${arg}`);
      name = short;
      if (arg.length > 2) value = arg[2] === '=' ? arg.slice(3) : arg.slice(2);
    } else {
      positionals.push(arg);
      continue;
    }
    if (VALUE_FLAGS.has(name)) {
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) throw invalidArgument(name, `flag --${name} needs a value`);
      }
      flags[name] = value;
    } else if (BOOL_FLAGS.has(name)) {
      flags[name] = true;
    } else {
      throw invalidArgument(name, `unknown flag --${name}`);
    }
  }
  const output = (flags.output as string | undefined) ?? 'table';
  if (output !== 'table' && output !== 'wide' && output !== 'json' && output !== 'yaml') throw invalidArgument('output', `--output must be "table", "wide", "json" or "yaml" (got "${output}")`);
  const global: GlobalOptions = {
    kubeconfig: (flags.kubeconfig as string | undefined) ?? undefined,
    context: flags.context as string | undefined,
    namespace: flags.namespace as string | undefined,
    release: (flags.release as string | undefined) ?? (env.TESSERA_RELEASE || undefined),
    natsMonitor: (flags['nats-monitor'] as string | undefined) ?? (env.TESSERA_NATS_MONITOR_URL || undefined),
    natsService: (flags['nats-service'] as string | undefined) ?? (env.TESSERA_NATS_SERVICE || undefined),
    natsAccount: (flags['nats-account'] as string | undefined) ?? (env.TESSERA_NATS_ACCOUNT || undefined),
    output,
    requestTimeoutMs: parseDuration('request-timeout', (flags['request-timeout'] as string | undefined) ?? '30s'),
  };
  for (const k of ['kubeconfig', 'context', 'namespace', 'release', 'nats-monitor', 'nats-service', 'nats-account', 'output', 'request-timeout']) delete flags[k];
  return { global, flags, positionals };
}
