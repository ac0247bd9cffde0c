/**
 * Per-service NATS users for the hub and a site: runtime's `servicePermissions` (one user per
 * service, own subjects only) plus what the edge adds:
 * - hub gateway: pulls the uplink work queue (TESSERA_UPLINK, consumer `uplink-workers`) and answers
 *   and listens for stream control on the inboxes each site's gateway opened for it
 *   (`_INBOX_<site>.gateway.r.>` / `.c.>`, runtime's `calleeInboxes`);
 * - site gateway: uses its site inbox prefix (so the site's services answer into its `_INBOX_<site>.<service>.r`
 *   inboxes, runtime's per-callee grants with the gateway's prefix replaced), posts uplink
 *   jobs through the hub's JetStream API (the two calls a producer makes), and holds the model
 *   advertisements;
 * the feedback services need nothing more (sourcing runs inside nats-server).
 */
import { BUS_USERS, calleeInboxes, servicePermissions, type BusUser, type NatsPermissions } from '@tessera/runtime';
import type { ServerUser } from './server-config.js';
import { jsApiPrefix, siteInboxPrefix, siteModelPrefix, UPLINK_STAGE, UPLINK_STREAM, type SubjectPermissions } from './subjects.js';

const asServer = (p: NatsPermissions): SubjectPermissions => ({ publish: { allow: p.publish }, subscribe: { allow: p.subscribe } });
const merge = (p: NatsPermissions, pub: string[], sub: string[]): NatsPermissions => ({ publish: [...new Set([...p.publish, ...pub])].sort(), subscribe: [...new Set([...p.subscribe, ...sub])].sort() });

export function hubServiceUsers(sites: readonly string[], passwords: Record<BusUser, string>): ServerUser[] {
  const perms = servicePermissions();
  const durable = `${UPLINK_STAGE}-workers`;
  const uplinkWork = [
    ...['INFO', 'CREATE', 'UPDATE'].map((v) => `$JS.API.STREAM.${v}.${UPLINK_STREAM}`),
    ...['INFO', 'CREATE', 'DURABLE.CREATE', 'MSG.NEXT'].flatMap((v) => [`$JS.API.CONSUMER.${v}.${UPLINK_STREAM}.${durable}`, `$JS.API.CONSUMER.${v}.${UPLINK_STREAM}.${durable}.>`]),
    `$JS.API.CONSUMER.UPDATE.${UPLINK_STREAM}.${durable}`,
    `$JS.ACK.${UPLINK_STREAM}.>`,
    `tessera.advisory.poison.${UPLINK_STAGE}`,
  ];
  const inboxes = sites.map((s) => calleeInboxes(siteInboxPrefix(s), 'gateway'));
  perms.gateway = merge(perms.gateway, [...uplinkWork, ...inboxes.map((i) => `${i.replies}.>`)], inboxes.map((i) => `${i.control}.>`));
  return BUS_USERS.map((u) => ({ user: u, password: passwords[u], permissions: asServer(perms[u]) }));
}

export function siteServiceUsers(site: string, hubDomain: string, passwords: Record<BusUser, string>): ServerUser[] {
  const perms = servicePermissions({}, { inboxPrefixes: { gateway: siteInboxPrefix(site) } });
  const inbox = `${siteInboxPrefix(site)}.>`;
  const hubApi = jsApiPrefix(hubDomain);
  perms.gateway = merge(
    perms.gateway,
    [inbox, `tessera.work.${UPLINK_STAGE}.>`, `${hubApi}.INFO`, `${hubApi}.STREAM.INFO.${UPLINK_STREAM}`, '$JS.API.STREAM.INFO.TESSERA_FEEDBACK'],
    [inbox, `${siteModelPrefix(site)}.>`],
  );
  return BUS_USERS.map((u) => ({ user: u, password: passwords[u], permissions: asServer(perms[u]) }));
}
