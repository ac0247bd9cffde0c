/**
 * Test topology: a hub nats-server and site nats-servers as leaf nodes, on loopback, each with its
 * own JetStream domain, the site's uplink through a TCP relay the test can cut and restore (a lost
 * uplink without stopping either server, so hub services stay connected to the hub).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNatsServer, type NatsServerHandle } from '@tessera/testing';
import { hubServerConfig, renderServerConfig, siteServerConfig, type HubSite, type ServerUser, type TlsFiles } from '../server-config.js';

export interface Relay {
  readonly port: number;
  /** Drops every connection and refuses new ones until `restore`. */
  cut(): void;
  /**
   * Keeps the connections open but passes no bytes (held, not dropped) until `restore`: a link lost
   * without either server noticing (a pulled cable: nats-server sees it after its ping interval,
   * 2 min by default), so the site still holds the hub's interest and requests go into the void.
   */
  stall(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number): Promise<Relay> {
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let open = true;
  let stalled = false;
  const server: Server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      // Nagle off, as nats-server sets TCP_NODELAY on its own connections: with Node's default a
      // small write (a publish ack, a stream chunk) waited for the previous segment's ACK, which the
      // peer delays (Linux: up to 40 ms), and the relay alone added a fixed 20-50 ms to every hub TTFT.
      s.setNoDelay(true);
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
    if (!stalled) pipe(pair);
  });
  const pipe = ([a, b]: [Socket, Socket]) => {
    a.pipe(b);
    b.pipe(a);
  };
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    stall() {
      stalled = true;
      // Unpiped sockets stop reading: bytes wait in the kernel buffers, the peers see no error.
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
      }
    },
    restore() {
      open = true;
      if (stalled) for (const p of pairs) pipe(p);
      stalled = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The `uplink` of a hub whose sites dial it directly: there is nothing to cut (port 0: no relay). */
function uncuttable(): Relay {
  const refuse = () => {
    throw new Error('this hub was started with directUplink: its sites dial it without a relay, so the link cannot be cut or stalled');
  };
  return { port: 0, cut: refuse, stall: refuse, restore: refuse, close: async () => {} };
}

export interface TopologyServer {
  nats: NatsServerHandle;
  domain: string;
  /** Account users (service logins) of this server. */
  users: ServerUser[];
  confFile: string;
  stop(): Promise<void>;
}

export const SERVICE_USER: ServerUser = { user: 'svc', password: 'svc-secret' };

export interface HubServer extends TopologyServer {
  /** The relay sites dial: `uplink.cut()` is a lost link (refused when started with `directUplink`). */
  uplink: Relay;
  /** What a site's remote points at (the relay, or the hub's leaf port with `directUplink`). */
  leafUrl: string;
}

/**
 * `directUplink`: sites dial the hub's leaf port with no relay between, as over a real link; `uplink`
 * then cannot cut or stall it. The relay copies every message through this process's event loop
 * (two more wake-ups per message on the path), which bench/edge measured as ~0.4 ms of a forwarded
 * chat's time to first token; so benches time the hop without it and cut a separate relayed link.
 */
export async function startHub(o: { domain?: string; sites: HubSite[]; tls?: TlsFiles; users?: ServerUser[]; directUplink?: boolean }): Promise<HubServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-hub-'));
  const port = await freePort();
  const leafPort = await freePort();
  const uplink = o.directUplink ? uncuttable() : await startRelay(leafPort);
  const dialPort = o.directUplink ? leafPort : uplink.port;
  const users = o.users ?? [SERVICE_USER];
  const domain = o.domain ?? 'hub';
  const conf = hubServerConfig({ serverName: 'hub', host: '127.0.0.1', port, storeDir: dir, domain, leaf: { host: '127.0.0.1', port: leafPort, advertise: `127.0.0.1:${dialPort}`, ...(o.tls && { tls: o.tls }) }, users, sites: o.sites });
  const confFile = join(dir, 'hub.conf');
  writeFileSync(confFile, renderServerConfig(conf));
  const nats = await startNatsServer({ port, storeDir: dir, configFile: confFile });
  return {
    nats,
    domain,
    users,
    confFile,
    uplink,
    leafUrl: `nats-leaf://127.0.0.1:${dialPort}`,
    async stop() {
      await uplink.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startSite(o: { site: string; domain: string; leafUrl: string; password: string; caFile?: string; users?: ServerUser[] }): Promise<TopologyServer> {
  const dir = mkdtempSync(join(tmpdir(), `tessera-site-${o.site}-`));
  const port = await freePort();
  const users = o.users ?? [SERVICE_USER];
  const conf = siteServerConfig({ serverName: o.site, host: '127.0.0.1', port, storeDir: dir, domain: o.domain, users, hub: { url: o.leafUrl, user: o.site, password: o.password, ...(o.caFile && { caFile: o.caFile }) } });
  const confFile = join(dir, 'site.conf');
  writeFileSync(confFile, renderServerConfig(conf));
  const nats = await startNatsServer({ port, storeDir: dir, configFile: confFile });
  return {
    nats,
    domain: o.domain,
    users,
    confFile,
    async stop() {
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LeafPair {
  hub: HubServer;
  site: TopologyServer;
  /** Stops the site, then the hub. */
  stop(): Promise<void>;
}

/**
 * A hub and one site as its leaf (JetStream domain = site name), returned once the hub's /leafz shows
 * the link. `otherSites`: more sites the hub accepts (none connects); `tls`: the uplink over TLS, the
 * site trusting `tls.caFile`; users default to SERVICE_USER on both servers.
 */
export async function startLeafPair(o: { site: string; password: string; tls?: TlsFiles & { caFile: string }; hubUsers?: ServerUser[]; siteUsers?: ServerUser[]; otherSites?: HubSite[] }): Promise<LeafPair> {
  const hub = await startHub({ sites: [{ site: o.site, domain: o.site, password: o.password }, ...(o.otherSites ?? [])], ...(o.tls && { tls: o.tls }), ...(o.hubUsers && { users: o.hubUsers }) });
  let site: TopologyServer | undefined;
  try {
    site = await startSite({ site: o.site, domain: o.site, leafUrl: hub.leafUrl, password: o.password, ...(o.tls && { caFile: o.tls.caFile }), ...(o.siteUsers && { users: o.siteUsers }) });
    await waitForLeafs(hub.nats.monitorPort, 1);
  } catch (err) {
    await site?.stop();
    await hub.stop();
    throw err;
  }
  const started = site;
  return {
    hub,
    site: started,
    async stop() {
      await started.stop();
      await hub.stop();
    },
  };
}

/** Leaf connections the hub's /leafz shows now. */
export async function leafCount(monitorPort: number): Promise<number> {
  return ((await (await fetch(`http://127.0.0.1:${monitorPort}/leafz`)).json()) as { leafnodes: number }).leafnodes;
}

/** Resolves once the hub's /leafz shows `count` leaf connections (polls every 100 ms, up to 20 s). */
export async function waitForLeafs(monitorPort: number, count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await leafCount(monitorPort)) >= count) return;
    } catch {
      /* server starting */
    }
    if (Date.now() > deadline) throw new Error(`hub has not ${count} leaf connection(s) after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A throwaway CA and a server certificate for 127.0.0.1/localhost (openssl), for TLS on the uplink. */
export function makeTestCerts(): TlsFiles & { caFile: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-certs-'));
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=tessera-test-ca', '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=hub', '-keyout', f('hub.key'), '-out', f('hub.csr')]);
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', f('hub.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('san.ext'), '-out', f('hub.pem')]);
  return { dir, caFile: f('ca.pem'), certFile: f('hub.pem'), keyFile: f('hub.key') };
}
