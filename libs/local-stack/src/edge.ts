/**
 * The local stack's `edge` profile (docs/edge.md): a hub and one edge site on one machine. Two
 * nats-servers on loopback with their own JetStream domains, the site's a leaf node of the hub's
 * (TLS uplink through a relay that `uplink.cut()` drops, to rehearse a lost link), and the services
 * split between them:
 *   hub:  gateway (hub model + the uplink queue for sites), decoder (+ slicer, resampler; also on its
 *         site subjects for sites that orchestrate it themselves), feedback sourcing the site's feedback stream;
 *   site: gateway with a site config (site model here, hub model over the leaf link), decoder,
 *         feedback (the site stream, bounded, oldest discarded first).
 * e2e/src/edge.e2e.test.ts and bench/edge run on it; `npx tsx libs/local-stack/src/edge-demo.ts`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestCerts, SERVICE_USER, startHub, startSite, waitForLeafs, type HubServer, type TopologyServer } from '@tessera/edge/testing';
import { hubServiceUsers, siteServiceUsers } from '@tessera/edge';
import { BUS_USERS, type BusUser } from '@tessera/runtime';
import { startLocalStack, type RunningStack, type ServiceName } from './stack.js';

export interface EdgeStackOptions {
  modelDir: string;
  workDir: string;
  site?: string;
  /** API keys file (hashed keys), shared by both gateways. */
  keysFile: string;
  /** The model the hub serves and the one the site serves. */
  hubModel: string;
  siteModel?: string;
  /** Extra entries of the site config's `models` (beyond the two above), e.g. another hub model with `fail`. */
  extraModels?: Array<{ id: string; place: 'site' | 'hub'; fallback?: string; route?: 'gateway' | 'stages'; modelDir?: string }>;
  /**
   * Who orchestrates the hub model's text requests (site config `route`): `gateway` (default) the hub
   * gateway; `stages` the site's gateway against the hub decoder, with `modelDir` as the card.
   */
  hubRoute?: 'gateway' | 'stages';
  /** Fallback of the hub model at the site. Default `serve-local-model-<siteModel>` (`fail` without a site model). */
  hubFallback?: string;
  hubServices?: readonly ServiceName[];
  siteServices?: readonly ServiceName[];
  /** Events the site's feedback stream keeps. Default 1,000,000. */
  siteFeedbackMaxEvents?: number;
  env?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  probeIntervalMs?: number;
  /**
   * One NATS user per service on both servers with runtime's per-service permissions plus the edge
   * grants (libs/edge service-users.ts), instead of one unrestricted login. Default true.
   */
  perServiceUsers?: boolean;
  /**
   * The site dials the hub's leaf port directly (no test relay on the link), so `hub.uplink` cannot
   * cut it: for timing the hop (bench/edge part 1). Default false (the e2e cuts and stalls the link).
   */
  directUplink?: boolean;
}

export interface EdgeStack {
  hub: HubServer;
  site: TopologyServer;
  hubStack: RunningStack;
  siteStack: RunningStack;
  siteName: string;
  /** The site's leaf credential at the hub (user = site name). */
  leafPassword: string;
  /** A login with every permission on both servers (tests, the CLI). */
  operator: { user: string; password: string };
  stop(): Promise<void>;
}

export async function startEdgeStack(o: EdgeStackOptions): Promise<EdgeStack> {
  const siteName = o.site ?? 'shop-1';
  const leafPassword = `${siteName}-leaf-${Math.random().toString(36).slice(2)}`;
  mkdirSync(o.workDir, { recursive: true });
  const siteConfig = join(o.workDir, 'site.json');
  writeFileSync(
    siteConfig,
    JSON.stringify({
      site: siteName,
      hubDomain: 'hub',
      probeIntervalMs: o.probeIntervalMs ?? 250,
      models: [
        ...(o.siteModel ? [{ id: o.siteModel, place: 'site' }] : []),
        { id: o.hubModel, place: 'hub', fallback: o.hubFallback ?? (o.siteModel ? `serve-local-model-${o.siteModel}` : 'fail'), ...(o.hubRoute === 'stages' && { route: 'stages', modelDir: o.modelDir }) },
        ...(o.extraModels ?? []),
      ],
    }),
  );
  const certs = makeTestCerts();
  const perService = o.perServiceUsers !== false;
  const passwords = Object.fromEntries(BUS_USERS.map((u) => [u, randomBytes(12).toString('base64url')])) as Record<BusUser, string>;
  const hubUsers = perService ? hubServiceUsers([siteName], passwords) : [SERVICE_USER];
  const siteUsers = perService ? siteServiceUsers(siteName, 'hub', passwords) : [SERVICE_USER];
  const operator = perService ? { user: 'operator', password: passwords.operator } : SERVICE_USER;
  const hub = await startHub({ sites: [{ site: siteName, domain: siteName, password: leafPassword }], tls: certs, users: hubUsers, ...(o.directUplink && { directUplink: true }) });
  const site = await startSite({ site: siteName, domain: siteName, leafUrl: hub.leafUrl, password: leafPassword, caFile: certs.caFile, users: siteUsers });
  await waitForLeafs(hub.nats.monitorPort, 1);
  const env = { ...(!perService && { NATS_USER: SERVICE_USER.user, NATS_PASSWORD: SERVICE_USER.password }), ...o.env };
  const login = (name: BusUser) => (perService ? { NATS_USER: name, NATS_PASSWORD: passwords[name] } : {});
  const each = (services: readonly ServiceName[], extra: Partial<Record<ServiceName, Record<string, string>>>) =>
    Object.fromEntries(services.map((s) => [s, { ...login(s), ...extra[s] }])) as Partial<Record<ServiceName, Record<string, string>>>;
  const gw = { TESSERA_GATEWAY_API_KEYS_FILE: o.keysFile, ...o.gatewayEnv };
  const hubServices = o.hubServices ?? (['decoder', 'feedback', 'gateway'] as const);
  const siteServices = o.siteServices ?? (['decoder', 'feedback', 'gateway'] as const);
  const [hubStack, siteStack] = await Promise.all([
    startLocalStack({
      modelDir: o.modelDir,
      natsUrl: hub.nats.url,
      workDir: join(o.workDir, 'hub'),
      services: hubServices,
      env,
      // The hub serves sites both ways: its gateway takes forwarded chats, its decoder the requests of sites that orchestrate the model themselves.
      serviceEnv: each(hubServices, { gateway: { ...gw, TESSERA_GATEWAY_MODEL_ID: o.hubModel, TESSERA_GATEWAY_SITE_UPLINK: 'true' }, decoder: { TESSERA_DECODER_SITE_ACCESS: 'true' }, feedback: { TESSERA_FEEDBACK_SITES: siteName } }),
    }),
    startLocalStack({
      modelDir: o.modelDir,
      natsUrl: site.nats.url,
      workDir: join(o.workDir, 'site'),
      services: siteServices,
      env,
      serviceEnv: each(siteServices, { gateway: { ...gw, TESSERA_GATEWAY_MODEL_ID: o.siteModel ?? 'none-at-site', TESSERA_SITE_CONFIG: siteConfig }, feedback: { TESSERA_FEEDBACK_STREAM_MAX_EVENTS: String(o.siteFeedbackMaxEvents ?? 1_000_000) } }),
    }),
  ]);
  return {
    hub,
    site,
    hubStack,
    siteStack,
    siteName,
    leafPassword,
    operator,
    async stop() {
      await Promise.all([siteStack.stop(), hubStack.stop()]);
      await site.stop();
      await hub.stop();
      rmSync(certs.dir, { recursive: true, force: true });
    },
  };
}
