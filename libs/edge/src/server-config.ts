/**
 * nats-server configurations for the hub and for a site, as JSON (nats-server reads JSON: its
 * config format is a superset). The local stack, the tests and the bench write these files; the
 * chart renders the same keys in YAML. Checked against nats-server 2.9.10 (leafnodes, JetStream
 * domains, cross-domain sourcing).
 *
 * Topology: one account (TESSERA) on both sides; the site's leaf connection logs in at the hub as
 * user `<site>` with `siteLeafPermissions`, so the hub, not the site, decides what crosses.
 */
import { DEFAULT_ACCOUNT, siteLeafPermissions, type SubjectPermissions } from './subjects.js';

export interface ServerUser {
  user: string;
  password: string;
  permissions?: SubjectPermissions;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** CA that signed the peer's certificate (the site verifies the hub with it). */
  caFile?: string;
}

export interface HubSite {
  site: string;
  domain: string;
  /** The leaf credential's password (in production a mounted secret). */
  password: string;
}

/** What hub and site servers share: a named server with monitoring, JetStream in its own domain, one account of users. */
interface ServerOptions {
  serverName: string;
  host: string;
  port: number;
  monitorPort?: number;
  storeDir: string;
  /** This server's JetStream domain (a site's is never the hub's: see parseSiteConfig). */
  domain: string;
  /** Users of the services on this server. */
  users: ServerUser[];
  /** The account hub and sites share across the leaf connection (default TESSERA). */
  account?: string;
}

export interface HubServerOptions extends ServerOptions {
  /** `advertise`: the address sites dial (a load balancer, a NAT); the hub gives leaves no other. */
  leaf: { host: string; port: number; tls?: TlsFiles; advertise?: string };
  sites: HubSite[];
}

export interface SiteServerOptions extends ServerOptions {
  hub: {
    /** `nats-leaf://host:port` (or several, comma-separated). */
    url: string;
    user: string;
    password: string;
    /** CA of the hub's leafnode certificate: the uplink then runs over TLS and verifies the hub. */
    caFile?: string;
  };
}

const tls = (t: TlsFiles) => ({ cert_file: t.certFile, key_file: t.keyFile, ...(t.caFile && { ca_file: t.caFile }), timeout: 5 });

/** The common part; each side adds its `leafnodes` block (and the hub its leaf users). */
function serverConfig(o: ServerOptions, leafnodes: Record<string, unknown>, leafUsers: ServerUser[] = []): Record<string, unknown> {
  return {
    server_name: o.serverName,
    host: o.host,
    port: o.port,
    ...(o.monitorPort !== undefined && { http_port: o.monitorPort }),
    jetstream: { store_dir: o.storeDir, domain: o.domain },
    leafnodes,
    accounts: { [o.account ?? DEFAULT_ACCOUNT]: { jetstream: 'enabled', users: [...o.users, ...leafUsers].map(user) } },
  };
}

export function hubServerConfig(o: HubServerOptions): Record<string, unknown> {
  return serverConfig(
    o,
    // Without `advertise` the hub tells each leaf its own listen address, and a site that lost its
    // uplink reconnects around the address it was configured with (seen in tests: a relay bypassed).
    { host: o.leaf.host, port: o.leaf.port, ...(o.leaf.advertise ? { advertise: o.leaf.advertise } : { no_advertise: true }), ...(o.leaf.tls && { tls: tls(o.leaf.tls) }) },
    // Leaf connections log in with these: no leafnodes.authorization block, so the server checks
    // them against the account users and applies their permissions to the link.
    o.sites.map((s) => ({ user: s.site, password: s.password, permissions: siteLeafPermissions(s.site, s.domain, o.domain) })),
  );
}

export function siteServerConfig(o: SiteServerOptions): Record<string, unknown> {
  const urls = o.hub.url.split(',').map((u) => withUserInfo(u.trim(), o.hub.user, o.hub.password));
  return serverConfig(o, {
    // nats-server retries every `reconnect` seconds; 1 s keeps catch-up after an outage prompt.
    reconnect: 1,
    remotes: [{ urls, account: o.account ?? DEFAULT_ACCOUNT, ...(o.hub.caFile && { tls: { ca_file: o.hub.caFile, timeout: 5 } }) }],
  });
}

function user(u: ServerUser) {
  return { user: u.user, password: u.password, ...(u.permissions && { permissions: u.permissions }) };
}

function withUserInfo(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString().replace(/\/$/, '');
}

export function renderServerConfig(c: Record<string, unknown>): string {
  return `${JSON.stringify(c, null, 2)}\n`;
}
