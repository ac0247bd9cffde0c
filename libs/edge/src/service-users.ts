/**
 * Per-service NATS users for the hub and a site: runtime's `servicePermissions` (one user per
 * service, own subjects only) plus what the edge adds:
 * - hub gateway: pulls the uplink work queue (TESSERA_UPLINK, consumer `uplink-workers`) and answers
 *   and listens for stream control on each site's inboxes (`_INBOX_<site>.>`);
 * - hub gateway: also reads each site's uplink bucket (large requests claim-checked at the hub);
 * - site gateway: uses its site inbox prefix (so every site service answers there too), posts uplink
 *   jobs through the hub's JetStream API (the two calls a producer makes), writes its uplink bucket at
 *   the hub, and holds the model advertisements;
 * the feedback services need nothing more (sourcing runs inside nats-server).
 */
import { BUS_USERS, servicePermissions, type BusUser, type NatsPermissions } from '@tessera/runtime';
import type { ServerUser } from './server-config.js';
import { jsApiPrefix, siteInboxPrefix, siteModelPrefix, siteUplinkBucket, siteUplinkObjectGrants, UPLINK_STAGE, UPLINK_STREAM, type SubjectPermissions } from './subjects.js';

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
  const inboxes = sites.map((s) => `${siteInboxPrefix(s)}.>`);
  // Each site's uplink bucket (large requests): exactly runtime's grants for a payload bucket of that name.
  const uplinkObjects = sites.flatMap((s) => servicePermissions({ payloadBucket: siteUplinkBucket(s) }).gateway.publish.filter((x) => x.includes(`OBJ_${siteUplinkBucket(s)}`) || x.startsWith(`$O.${siteUplinkBucket(s)}.`)));
  perms.gateway = merge(perms.gateway, [...uplinkWork, ...inboxes, ...uplinkObjects], inboxes);
  return BUS_USERS.map((u) => ({ user: u, password: passwords[u], permissions: asServer(perms[u]) }));
}

export function siteServiceUsers(site: string, hubDomain: string, passwords: Record<BusUser, string>): ServerUser[] {
  const perms = servicePermissions();
  const inbox = `${siteInboxPrefix(site)}.>`;
  const hubApi = jsApiPrefix(hubDomain);
  perms.gateway = merge(
    perms.gateway,
    [inbox, `tessera.work.${UPLINK_STAGE}.>`, `${hubApi}.INFO`, `${hubApi}.STREAM.INFO.${UPLINK_STREAM}`, ...siteUplinkObjectGrants(site, hubDomain), '$JS.API.STREAM.INFO.TESSERA_FEEDBACK'],
    [inbox, `${siteModelPrefix(site)}.>`],
  );
  // The site gateway's connection uses the site inbox prefix for every call, local ones too: the
  // site's services answer (and read stream control) there.
  return BUS_USERS.map((u) => ({ user: u, password: passwords[u], permissions: asServer(merge(perms[u], [inbox], [inbox])) }));
}
