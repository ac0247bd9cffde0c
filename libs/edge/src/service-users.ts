/**
 * Per-service NATS users for the hub and a site: runtime's `servicePermissions` (one user per
 * service, own subjects only) plus what the edge adds:
 * - hub gateway: pulls the uplink work queue (TESSERA_UPLINK, consumer `uplink-workers`), takes the
 *   direct offers on `tessera.uplink.>` (subscribe), and answers
 *   and listens for stream control on the inboxes each site's gateway opened for it
 *   (`_INBOX_<site>.gateway.r.>` / `.c.>`, runtime's `calleeInboxes`);
 * - hub gateway: also reads each site's uplink bucket (large requests claim-checked at the hub);
 * - hub decoder: serves sites on `tessera.hubmodel.*.*.DecoderService.*` (a site orchestrating a hub model itself, site
 *   config `route: "stages"`) and answers into the inboxes each site's gateway opened for it
 *   (`_INBOX_<site>.decoder.r.>` / `.c.>`);
 * - site gateway: uses its site inbox prefix (the site's services answer into its `_INBOX_<site>.<service>.r`:
 *   runtime's per-callee grants with the gateway's prefix replaced), offers forwarded chats on
 *   `tessera.uplink.>` and posts uplink jobs through the hub's JetStream API (the two calls a
 *   producer makes), calls hub decoders on `tessera.hubmodel.>`, writes its uplink bucket at
 *   the hub, and holds the model advertisements;
 * the feedback services need nothing more (sourcing runs inside nats-server).
 */
import { BUS_USERS, calleeInboxes, passwordEnv, servicePermissions, type BusUser, type NatsPermissions } from '@tessera/runtime';
import type { ServerUser } from './server-config.js';
import { HUB_MODEL_SERVED, HUB_MODEL_SUBJECTS, jsApiPrefix, siteInboxPrefix, siteLeafPermissions, siteModelPrefix, siteUplinkBucket, siteUplinkObjectGrants, UPLINK_NAMESPACE, UPLINK_STAGE, UPLINK_STREAM, type SubjectPermissions } from './subjects.js';

const asServer = (p: NatsPermissions): SubjectPermissions => ({ publish: { allow: p.publish }, subscribe: { allow: p.subscribe } });
const merge = (p: NatsPermissions, pub: string[], sub: string[]): NatsPermissions => ({ publish: [...new Set([...p.publish, ...pub])].sort(), subscribe: [...new Set([...p.subscribe, ...sub])].sort() });

/** What the hub gateway subscribes for every site: the direct uplink offers. */
const HUB_UPLINK_DIRECT = [`${UPLINK_NAMESPACE}.>`];

/** What the hub gateway publishes for every site (pulling TESSERA_UPLINK). */
function hubUplinkWork(): string[] {
  const durable = `${UPLINK_STAGE}-workers`;
  return [
    ...['INFO', 'CREATE', 'UPDATE'].map((v) => `$JS.API.STREAM.${v}.${UPLINK_STREAM}`),
    ...['INFO', 'CREATE', 'DURABLE.CREATE', 'MSG.NEXT'].flatMap((v) => [`$JS.API.CONSUMER.${v}.${UPLINK_STREAM}.${durable}`, `$JS.API.CONSUMER.${v}.${UPLINK_STREAM}.${durable}.>`]),
    `$JS.API.CONSUMER.UPDATE.${UPLINK_STREAM}.${durable}`,
    `$JS.ACK.${UPLINK_STREAM}.>`,
    `tessera.advisory.poison.${UPLINK_STAGE}`,
  ];
}

/** What a hub service needs per site: answers into the inboxes the site's gateway opened for it (and the gateway its uplink bucket: exactly runtime's grants for a payload bucket of that name). */
function hubSiteGrants(site: string): Record<'gateway' | 'decoder', NatsPermissions> {
  const bucket = siteUplinkBucket(site);
  const objects = servicePermissions({ payloadBucket: bucket }).gateway.publish.filter((x) => x.includes(`OBJ_${bucket}`) || x.startsWith(`$O.${bucket}.`));
  const answers = (callee: 'gateway' | 'decoder') => calleeInboxes(siteInboxPrefix(site), callee);
  return {
    gateway: { publish: [`${answers('gateway').replies}.>`, ...objects], subscribe: [`${answers('gateway').control}.>`] },
    decoder: { publish: [`${answers('decoder').replies}.>`], subscribe: [`${answers('decoder').control}.>`] },
  };
}

/** Every service's permissions plus the site-independent hub grants: the uplink (gateway), the site subjects (decoder). */
function hubPermissions(): Record<BusUser, NatsPermissions> {
  const perms = servicePermissions();
  perms.gateway = merge(perms.gateway, hubUplinkWork(), HUB_UPLINK_DIRECT);
  perms.decoder = merge(perms.decoder, [], [HUB_MODEL_SERVED]);
  return perms;
}

export function hubServiceUsers(sites: readonly string[], passwords: Record<BusUser, string>): ServerUser[] {
  const perms = hubPermissions();
  const perSite = sites.map(hubSiteGrants);
  for (const u of ['gateway', 'decoder'] as const) perms[u] = merge(perms[u], perSite.flatMap((g) => g[u].publish), perSite.flatMap((g) => g[u].subscribe));
  return BUS_USERS.map((u) => ({ user: u, password: passwords[u], permissions: asServer(perms[u]) }));
}

/** The leaf user of a site at the hub: its password comes from this environment variable of the hub's nats-server. */
export const sitePasswordEnv = (site: string): string => passwordEnv(`site_${site}`);

/**
 * The hub's users as the chart renders them (helm/tessera/files/nats/edge-hub.json, written by
 * scripts/gen-nats-edge.ts): every service's permissions with the site-independent hub grants, and
 * the per-site grants with `{site}`, `{domain}` and `{hubDomain}` for the template to substitute.
 * libs/ctl chart-edge.test.ts renders the chart and compares it with `hubServiceUsers` and
 * `siteLeafPermissions`, so the two cannot drift.
 */
export function hubUserTemplates(): {
  users: Array<{ user: BusUser; passwordEnv: string; publish: string[]; subscribe: string[] }>;
  perSite: { services: Record<'gateway' | 'decoder', NatsPermissions>; leaf: NatsPermissions };
} {
  const perms = hubPermissions();
  const leaf = siteLeafPermissions('{site}', '{domain}', '{hubDomain}');
  return {
    users: BUS_USERS.map((u) => ({ user: u, passwordEnv: passwordEnv(u), ...perms[u] })),
    perSite: { services: hubSiteGrants('{site}'), leaf: { publish: leaf.publish.allow, subscribe: leaf.subscribe.allow } },
  };
}

export function siteServiceUsers(site: string, hubDomain: string, passwords: Record<BusUser, string>): ServerUser[] {
  const perms = servicePermissions({}, { inboxPrefixes: { gateway: siteInboxPrefix(site) } });
  const inbox = `${siteInboxPrefix(site)}.>`;
  const hubApi = jsApiPrefix(hubDomain);
  perms.gateway = merge(
    perms.gateway,
    [inbox, `tessera.work.${UPLINK_STAGE}.>`, `${UPLINK_NAMESPACE}.>`, `${HUB_MODEL_SUBJECTS}.>`, `${hubApi}.INFO`, `${hubApi}.STREAM.INFO.${UPLINK_STREAM}`, ...siteUplinkObjectGrants(site, hubDomain), '$JS.API.STREAM.INFO.TESSERA_FEEDBACK'],
    [inbox, `${siteModelPrefix(site)}.>`],
  );
  return BUS_USERS.map((u) => ({ user: u, password: passwords[u], permissions: asServer(perms[u]) }));
}

/**
 * A site's service users as the chart renders them (helm/tessera/files/nats/edge-site.json, written by
 * scripts/gen-nats-edge.ts): `siteServiceUsers` with `{site}` and `{hubDomain}` for the template to
 * substitute and re-sort. libs/ctl chart-edge.test.ts compares the rendered text with
 * `siteServiceUsers` and connects a site nats-server started from it to a hub.
 */
export function siteUserTemplates(): { users: Array<{ user: BusUser; passwordEnv: string; publish: string[]; subscribe: string[] }> } {
  const users = siteServiceUsers('{site}', '{hubDomain}', Object.fromEntries(BUS_USERS.map((u) => [u, ''])) as Record<BusUser, string>);
  return { users: users.map((u) => ({ user: u.user as BusUser, passwordEnv: passwordEnv(u.user), publish: u.permissions!.publish.allow, subscribe: u.permissions!.subscribe.allow })) };
}
