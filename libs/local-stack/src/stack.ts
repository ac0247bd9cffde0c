import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startNatsServer, type NatsServerHandle } from '@tessera/testing';
import { checkGrpcHealth } from './grpc-health.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const SERVICE_NAMES = ['slicer', 'resampler', 'decoder', 'retrieval', 'feedback', 'gateway'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface StackOptions {
  /** A built ONNX model directory (manifest.json), as `tessera model build` writes it. */
  modelDir: string;
  /** Use this NATS server instead of starting one. */
  natsUrl?: string;
  services?: readonly ServiceName[];
  /** Processes per service (a second GPU-stage worker for failover tests). */
  replicas?: Partial<Record<ServiceName, number>>;
  /** Extra environment for every process, and per service. */
  env?: Record<string, string>;
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
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
  process: ChildProcess;
  logFile: string;
}

export interface RunningStack {
  natsUrl: string;
  nats?: NatsServerHandle;
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
  const nats = opts.natsUrl ? undefined : await startNatsServer({ storeDir: join(workDir, 'nats') });
  const natsUrl = opts.natsUrl ?? nats!.url;
  const services = opts.services ?? SERVICE_NAMES;
  const processes: ServiceProcess[] = [];
  const httpPort = opts.httpPort ?? (await freePort());
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
  };
  try {
    // Every stage boots in parallel (model loading dominates); the gateway last, once they serve.
    const launch = async (name: ServiceName, index: number) => {
      const grpcPort = name === 'gateway' && opts.grpcPort ? opts.grpcPort : await freePort();
      if (name === 'gateway') gatewayGrpc = grpcPort;
      const metricsPort = await freePort();
      const stateDir = join(workDir, name);
      mkdirSync(stateDir, { recursive: true });
      const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        NATS_URL: natsUrl,
        TESSERA_GRPC_PORT: String(grpcPort),
        TESSERA_METRICS_PORT: String(metricsPort),
        TESSERA_MODEL_DIR: opts.modelDir,
        TESSERA_DATA_DIR: stateDir,
        TESSERA_INSTANCE: `${name}-${index}`,
        OTEL_SERVICE_NAME: `tessera-${name}`,
        ...(name === 'gateway' && { TESSERA_HTTP_PORT: String(httpPort) }),
        ...opts.env,
        ...opts.serviceEnv?.[name],
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
      const sp: ServiceProcess = { name, index, grpcPort, metricsPort, process: child, logFile };
      processes.push(sp);
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
