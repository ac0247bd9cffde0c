import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real `nats-server -js` started for one test suite on a free loopback port. */
export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  /** HTTP monitoring port (`/jsz`, `/varz`), used by backlog checks. */
  readonly monitorPort: number;
  readonly storeDir: string;
  /** The extra arguments it was started with (a restart on the same port/store passes them again). */
  readonly args: readonly string[];
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function natsServerBinary(): string {
  const candidates = [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server', 'nats-server'];
  for (const c of candidates) {
    if (!c) continue;
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore' });
      return c;
    } catch {
      /* try next */
    }
  }
  throw new Error('nats-server not found: install the Debian package `nats-server` (apt-get install -y nats-server) or set NATS_SERVER_BIN');
}

/**
 * Starts nats-server with JetStream on a free port and waits until it accepts connections.
 * `configFile`: a server config that sets JetStream itself (store_dir, domain, leafnodes, accounts);
 * then only listen address and ports come from the command line.
 */
export async function startNatsServer(opts: { storeDir?: string; port?: number; args?: readonly string[]; configFile?: string } = {}): Promise<NatsServerHandle> {
  const port = opts.port ?? (await freePort());
  const monitorPort = await freePort();
  const ownsDir = !opts.storeDir;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'tessera-nats-'));
  const js = opts.configFile ? ['-c', opts.configFile] : ['-js', '-sd', storeDir];
  const child = spawn(natsServerBinary(), ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), ...js, ...(opts.args ?? [])], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nats-server did not become healthy within 10 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorPort,
    storeDir,
    args: opts.args ?? [],
    process: child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      if (ownsDir) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** A JetStream cluster of nats-servers on loopback (replicated streams; one node can be killed and restarted). */
export interface NatsClusterHandle {
  /** Every node's client URL, comma-separated (NATS_URL). */
  readonly url: string;
  readonly nodes: NatsServerHandle[];
  /** Starts node `i` again on its port, store and routes (after a kill). */
  restart(i: number): Promise<NatsServerHandle>;
  stop(): Promise<void>;
}

/**
 * Starts `size` (default 3) nats-servers with JetStream, routed to each other as cluster
 * `tessera`, and waits until JetStream has a meta leader (streams with replicas 3 can be created).
 * `args` go to every node (e.g. `-c auth.conf`); store dirs live under `storeDir` (a temp dir by default).
 */
export async function startNatsCluster(opts: { size?: number; args?: readonly string[]; storeDir?: string } = {}): Promise<NatsClusterHandle> {
  const size = opts.size ?? 3;
  const ownsDir = !opts.storeDir;
  const root = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'tessera-nats-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort() })));
  const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`).join(',');
  const nodeArgs = (i: number) => ['-n', `tessera-${i}`, '--cluster_name', 'tessera', '--cluster', `nats://127.0.0.1:${ports[i]!.route}`, '--routes', routes, ...(opts.args ?? [])];
  const start = (i: number) => startNatsServer({ port: ports[i]!.client, storeDir: join(root, `node-${i}`), args: nodeArgs(i) });
  const nodes = await Promise.all(ports.map((_, i) => start(i)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const leaders = await Promise.all(
      nodes.map((n) =>
        fetch(`http://127.0.0.1:${n.monitorPort}/jsz`)
          .then((r) => r.json() as Promise<{ meta_cluster?: { leader?: string; cluster_size?: number } }>)
          .catch(() => undefined),
      ),
    );
    if (leaders.every((l) => l?.meta_cluster?.leader && l.meta_cluster.cluster_size === size)) break;
    if (Date.now() > deadline) throw new Error(`nats cluster: no JetStream meta leader within 30 s (${JSON.stringify(leaders)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url: nodes.map((n) => n.url).join(','),
    nodes,
    async restart(i) {
      nodes[i] = await start(i);
      return nodes[i]!;
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      if (ownsDir) rmSync(root, { recursive: true, force: true });
    },
  };
}
