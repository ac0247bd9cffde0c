import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsCluster, startNatsServer, type NatsClusterHandle, type NatsServerHandle } from '@tessera/testing';
import { READY_PREFIX, generateBusLogins, type BusUser } from '@tessera/runtime';
import { FAMILIES, type FamilyId } from '@tessera/model';
import { familyOfModelDir } from './family.js';
import { checkGrpcHealth } from './grpc-health.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const SERVICE_NAMES = ['slicer', 'resampler', 'decoder', 'retrieval', 'feedback', 'gateway'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Services a model needs: every one, less the resampler for a family without one (MiniCPM-V 4.6). */
export function servicesFor(family: FamilyId): readonly ServiceName[] {
  return FAMILIES[family].hasResampler ? SERVICE_NAMES : SERVICE_NAMES.filter((s) => s !== 'resampler');
}

export interface StackOptions {
  /** A built ONNX model directory (manifest.json), as `tessera model build` writes it. */
  modelDir: string;
  /** Use this NATS server instead of starting one (its logins, if any, come from `env`). */
  natsUrl?: string;
  /**
   * Authenticated bus (default true when the stack starts its own nats-server): one NATS user per
   * service with a password generated now and the permissions of libs/runtime permissions.ts, so a
   * process without credentials is refused and no service can publish another's subjects.
   */
  natsAuth?: boolean;
  /** Extra nats-server arguments. */
  natsArgs?: readonly string[];
  /** Start a JetStream cluster of this many routed nats-servers on loopback instead of one (services get every URL). */
  natsCluster?: number;
  /**
   * Internal gRPC ports refuse callers without this service credential (TESSERA_SERVICE_TOKEN);
   * default: one generated now. `false` = no check.
   */
  serviceToken?: string | false;
  /** Default: what the model's family needs (servicesFor: no resampler for 4.6). */
  services?: readonly ServiceName[];
  /** Processes per service (a second GPU-stage worker for failover tests). */
  replicas?: Partial<Record<ServiceName, number>>;
  /** Extra environment for every process, and per service. */
  env?: Record<string, string>;
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Per replica, over `serviceEnv` (e.g. two gateways with different settings on one stack). */
  replicaEnv?: Partial<Record<ServiceName, Record<string, string>[]>>;
  /** nats-server requires TLS (a throwaway CA and certificate made now with openssl); services verify it (NATS_TLS_CA_FILE). */
  natsTls?: boolean;
  /** Where state (retrieval store, feedback projection, keys file) and logs go; a temp dir by default. */
  workDir?: string;
  /** Fixed ports for the gateway (the demo prints curl examples with them). */
  httpPort?: number;
  grpcPort?: number;
  startTimeoutMs?: number;
  /** Mirror service logs to this process's stderr (the demo's --verbose). */
  echoLogs?: boolean;
}

export interface ServiceProcess {
  name: ServiceName;
  index: number;
  grpcPort: number;
  metricsPort: number;
  /** The gateway's HTTP port (each gateway replica has its own). */
  httpPort?: number;
  process: ChildProcess;
  logFile: string;
}

export interface NatsLogin {
  user: string;
  pass: string;
}

export interface RunningStack {
  natsUrl: string;
  nats?: NatsServerHandle;
  /** The cluster, when started with `natsCluster`. */
  natsCluster?: NatsClusterHandle;
  /**
   * The `operator` login (all subjects: tests, the CLI, `nats` tooling) and each service's, when the
   * stack runs with NATS auth; spread into nats.js `connect({ servers, ...stack.natsLogin })`.
   */
  natsLogin?: NatsLogin;
  natsLogins?: Record<BusUser, NatsLogin>;
  /** The service credential internal gRPC ports require (`serviceToken` option of grpcClient). */
  serviceToken?: string;
  /** CA of the nats-server certificate when started with `natsTls` (nats.js `tls: { caFile }`). */
  natsTlsCaFile?: string;
  httpUrl: string;
  grpcAddress: string;
  workDir: string;
  processes: ServiceProcess[];
  /** SIGKILL one process (failover tests). */
  kill(name: ServiceName, index?: number): void;
  stop(): Promise<void>;
}

const ENTRY = (name: ServiceName) => join(REPO_ROOT, 'services', name, 'src', 'main.ts');

/**
 * Boots the whole platform as separate OS processes, the way it runs in production minus
 * Kubernetes: nats-server with JetStream, then every service with `node --import tsx`, each waited
 * for on its gRPC health endpoint. Used by the demo (README command 1) and by e2e/.
 */
export async function startLocalStack(opts: StackOptions): Promise<RunningStack> {
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), 'tessera-stack-'));
  mkdirSync(join(workDir, 'logs'), { recursive: true });
  const auth = !opts.natsUrl && opts.natsAuth !== false ? generateBusLogins() : undefined;
  const natsLogins = auth && (Object.fromEntries(Object.entries(auth.logins).map(([k, v]) => [k, { user: v.user, pass: v.password }])) as Record<BusUser, NatsLogin>);
  const serviceToken = opts.serviceToken === false ? undefined : (opts.serviceToken ?? randomBytes(24).toString('base64url'));
  const natsArgs = [...(opts.natsArgs ?? []), '-l', join(workDir, 'logs', 'nats-server.log')];
  const tls = !opts.natsUrl && opts.natsTls ? makeTlsFiles(join(workDir, 'tls')) : undefined;
  if (auth || tls) {
    const conf = join(workDir, 'nats-auth.conf');
    const tlsBlock = tls ? `tls {\n  cert_file: ${JSON.stringify(tls.certFile)}\n  key_file: ${JSON.stringify(tls.keyFile)}\n}\n` : '';
    writeFileSync(conf, (auth?.conf ?? '') + tlsBlock, { mode: 0o600 });
    natsArgs.push('-c', conf);
  }
  const natsCluster = !opts.natsUrl && opts.natsCluster ? await startNatsCluster({ size: opts.natsCluster, storeDir: join(workDir, 'nats'), args: natsArgs.filter((a, i) => a !== '-l' && natsArgs[i - 1] !== '-l') }) : undefined;
  const nats = opts.natsUrl || natsCluster ? undefined : await startNatsServer({ storeDir: join(workDir, 'nats'), args: natsArgs });
  const natsUrl = opts.natsUrl ?? natsCluster?.url ?? nats!.url;
  const services = opts.services ?? servicesFor(familyOfModelDir(opts.modelDir));
  const processes: ServiceProcess[] = [];
  // Every process binds port 0 and reports the port it got (the `tessera-ready` line, and the
  // gateway's `gateway.http_listening` log line). Picking free ports up front raced: between the
  // pick and the bind (tens of seconds while models load) another process took the port.
  let httpPort = opts.httpPort ?? 0;
  let gatewayGrpc = 0;
  const stop = async () => {
    await Promise.all(
      processes.map(
        (p) =>
          new Promise<void>((done) => {
            if (p.process.exitCode !== null || p.process.signalCode !== null) return done();
            const t = setTimeout(() => p.process.kill('SIGKILL'), 10_000);
            p.process.once('exit', () => {
              clearTimeout(t);
              done();
            });
            p.process.kill('SIGTERM');
          }),
      ),
    );
    await nats?.stop();
    await natsCluster?.stop();
  };
  try {
    // Every stage boots in parallel (model loading dominates); the gateway last, once they serve.
    const launch = async (name: ServiceName, index: number) => {
      const grpcPort = name === 'gateway' && opts.grpcPort ? opts.grpcPort : 0;
      const stateDir = join(workDir, name);
      mkdirSync(stateDir, { recursive: true });
      const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        NATS_URL: natsUrl,
        ...(natsLogins && { NATS_USER: natsLogins[name].user, NATS_PASSWORD: natsLogins[name].pass }),
        ...(serviceToken && { TESSERA_SERVICE_TOKEN: serviceToken }),
        TESSERA_GRPC_PORT: String(grpcPort),
        TESSERA_METRICS_PORT: '0',
        TESSERA_MODEL_DIR: opts.modelDir,
        TESSERA_DATA_DIR: stateDir,
        TESSERA_INSTANCE: `${name}-${index}`,
        OTEL_SERVICE_NAME: `tessera-${name}`,
        ...(name === 'gateway' && { TESSERA_HTTP_PORT: String(index === 0 ? httpPort : 0) }),
        // As deploy/start.sh does for the slicer image: decoded images are large fresh mappings; huge pages make a
        // 12 MP decode ~2.5× faster (issue 19, libs/vision/src/decode-image.ts). Read at process start.
        ...(name === 'slicer' && { GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? 'glibc.malloc.hugetlb=1' }),
        ...opts.env,
        ...(tls && { NATS_TLS_CA_FILE: tls.caFile }),
        ...opts.serviceEnv?.[name],
        ...opts.replicaEnv?.[name]?.[index],
      };
      const logFile = join(workDir, 'logs', `${name}-${index}.log`);
      const log = createWriteStream(logFile);
      const child = spawn(process.execPath, ['--import', 'tsx', ENTRY(name)], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.pipe(log);
      child.stderr!.pipe(log);
      if (opts.echoLogs) {
        child.stdout!.on('data', (d) => process.stderr.write(`[${name}] ${d}`));
        child.stderr!.on('data', (d) => process.stderr.write(`[${name}] ${d}`));
      }
      const sp: ServiceProcess = { name, index, grpcPort, metricsPort: 0, process: child, logFile };
      processes.push(sp);
      const ports = await waitReady(sp, opts.startTimeoutMs ?? 240_000);
      sp.grpcPort = ports.grpcPort;
      sp.metricsPort = ports.metricsPort;
      if (name === 'gateway') {
        sp.httpPort = ports.httpPort;
        // httpUrl / grpcAddress name the first gateway.
        if (index === 0) {
          gatewayGrpc = ports.grpcPort;
          httpPort = ports.httpPort ?? httpPort;
        }
      }
      await waitServing(sp, opts.startTimeoutMs ?? 240_000);
    };
    const replicas = (name: ServiceName) => Array.from({ length: opts.replicas?.[name] ?? 1 }, (_, i) => i);
    await Promise.all(services.filter((n) => n !== 'gateway').flatMap((name) => replicas(name).map((i) => launch(name, i))));
    if (services.includes('gateway')) for (const i of replicas('gateway')) await launch('gateway', i);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    natsUrl,
    nats,
    ...(natsCluster && { natsCluster }),
    ...(natsLogins && { natsLogin: natsLogins.operator, natsLogins }),
    ...(serviceToken && { serviceToken }),
    ...(tls && { natsTlsCaFile: tls.caFile }),
    httpUrl: `http://127.0.0.1:${httpPort}`,
    grpcAddress: `127.0.0.1:${gatewayGrpc}`,
    workDir,
    processes,
    kill(name, index = 0) {
      processes.find((p) => p.name === name && p.index === index)?.process.kill('SIGKILL');
    },
    stop,
  };
}

/** A throwaway CA and a server certificate for 127.0.0.1/localhost (openssl). */
function makeTlsFiles(dir: string): { caFile: string; certFile: string; keyFile: string } {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=tessera-local-ca', '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=nats', '-keyout', f('server.key'), '-out', f('server.csr')]);
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('san.ext'), '-out', f('server.pem')]);
  return { caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key') };
}

/** Reads the ports a process bound: its `tessera-ready {…}` stdout line and, for the gateway, the HTTP log line. */
function waitReady(p: ServiceProcess, timeoutMs: number): Promise<{ grpcPort: number; metricsPort: number; httpPort?: number }> {
  return new Promise((resolve, reject) => {
    let ready: { grpcPort: number; metricsPort: number } | undefined;
    let httpPort: number | undefined;
    const timer = setTimeout(() => finish(new Error(`${p.name}-${p.index} printed no ready line within ${timeoutMs} ms; log: ${p.logFile}`)), timeoutMs);
    const onExit = (code: number | null, signal: string | null) => finish(new Error(`${p.name}-${p.index} exited with ${code ?? signal} before serving; log: ${p.logFile}`));
    const lineReader = () => {
      let buffer = '';
      return (d: Buffer) => {
        buffer += d.toString('utf8');
        let i;
        while ((i = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, i);
          buffer = buffer.slice(i + 1);
          if (line.startsWith(READY_PREFIX)) ready = JSON.parse(line.slice(READY_PREFIX.length));
          else if (line.includes('"gateway.http_listening"')) httpPort = (JSON.parse(line) as { port: number }).port;
        }
        if (ready && (p.name !== 'gateway' || httpPort !== undefined)) finish();
      };
    };
    const onStdout = lineReader();
    const onStderr = lineReader();
    const finish = (err?: Error) => {
      clearTimeout(timer);
      p.process.stdout!.off('data', onStdout);
      p.process.stderr!.off('data', onStderr);
      p.process.off('exit', onExit);
      if (err) reject(err);
      else resolve({ ...ready!, ...(httpPort !== undefined && { httpPort }) });
    };
    // The ready line is on stdout, log lines (JSON) on stderr.
    p.process.stdout!.on('data', onStdout);
    p.process.stderr!.on('data', onStderr);
    p.process.once('exit', onExit);
  });
}

async function waitServing(p: ServiceProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | undefined;
  p.process.once('exit', (code, signal) => (exited = `exited with ${code ?? signal}`));
  for (;;) {
    if (exited) throw new Error(`${p.name}-${p.index} ${exited} before serving; log: ${p.logFile}`);
    if ((await checkGrpcHealth(`127.0.0.1:${p.grpcPort}`, 500)) === 'SERVING') return;
    if (Date.now() > deadline) throw new Error(`${p.name}-${p.index} not SERVING on :${p.grpcPort} after ${timeoutMs} ms; log: ${p.logFile}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
