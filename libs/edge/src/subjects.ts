/**
 * Names that make subjects and streams site-aware without changing any contract:
 * - a site's clients use the inbox prefix `_INBOX_<site>`, so the hub may send answers only there
 *   (the leaf credential subscribes to its own inboxes, never `_INBOX.>` of everyone);
 * - the hub's feedback stream sources each site's stream through `$JS.<site-domain>.API`, delivering
 *   on `tessera.site.<site>.deliver.>`;
 * - a site that orchestrates a hub model itself (site config `route: "stages"`) calls that model's hub
 *   decoder on `tessera.hubmodel.<revision>.>` (hubModelNamespace), which no decoder of its own captures;
 * - chats for hub models are offered to the hub gateway directly on `tessera.uplink.>` (core NATS
 *   request/reply, its own namespace so no site binding captures them) and otherwise go to its work
 *   queue `tessera.work.uplink.>` (stream TESSERA_UPLINK in the hub domain).
 */

/** Work-queue stage of chats forwarded by edge gateways to the hub gateway. */
export const UPLINK_STAGE = 'uplink';
/** The work-queue stream that stage uses (runtime's `streamName('uplink')`). */
export const UPLINK_STREAM = 'TESSERA_UPLINK';
/**
 * Namespace of the direct uplink (runtime `workQueue.direct`): the hub gateway subscribes
 * `tessera.uplink.*.GatewayService.*`; a site offers each forwarded chat there first and queues it
 * in TESSERA_UPLINK only when no hub gateway takes it (none subscribed, or all at their limit).
 * Not `tessera.gateway.…`: a site's own gateway would be the nearer responder for that.
 */
export const UPLINK_NAMESPACE = 'tessera.uplink';
/**
 * Subjects under which a hub decoder serves edge sites (TESSERA_DECODER_SITE_ACCESS): its model's
 * revision (the manifest's sha256) names them, so a site reaches exactly the model whose card it holds,
 * never its own local decoder (`tessera.decoding.>`) nor a hub decoder of another model or revision.
 */
export const HUB_MODEL_SUBJECTS = 'tessera.hubmodel';
export const hubModelNamespace = (revision: string): string => `${HUB_MODEL_SUBJECTS}.${revision}`;
/** What a hub decoder with site access subscribes (runtime serviceWildcard under the namespace). */
export const HUB_MODEL_SERVED = `${HUB_MODEL_SUBJECTS}.*.*.DecoderService.*`;
/** The feedback stream's name at the hub and at every site (its own domain at each). */
export const FEEDBACK_STREAM = 'TESSERA_FEEDBACK';
/** The feedback service's event subjects (services/feedback domain/events.ts). */
export const FEEDBACK_EVENTS = 'tessera.feedback.events';
/** The account hub and sites share across the leaf connection. */
export const DEFAULT_ACCOUNT = 'TESSERA';

export const jsApiPrefix = (domain: string): string => `$JS.${domain}.API`;
/** `$JS.<domain>.API` → domain, undefined for the local API or anything else. */
export const domainOfApiPrefix = (api: string | undefined): string | undefined => /^\$JS\.([^.]+)\.API$/.exec(api ?? '')?.[1];
export const siteInboxPrefix = (site: string): string => `_INBOX_${site}`;
export const siteDeliverPrefix = (site: string): string => `tessera.site.${site}.deliver`;
/** The site a hub source delivers for (`tessera.site.<site>.deliver` → site), undefined for another prefix. */
export const siteOfDeliverPrefix = (deliver: string | undefined): string | undefined => /^tessera\.site\.([^.]+)\.deliver$/.exec(deliver ?? '')?.[1];
export const siteModelPrefix = (site: string): string => `tessera.site.${site}.model`;
/**
 * The hub object-store bucket a site's large uplink requests go to (a request above the 512 KiB
 * claim-check threshold: a big image for a hub model). One per site, so a site's credential writes
 * only its own bucket; it lives in the hub's domain, so the hub gateway reads it as a local claim check.
 */
export const siteUplinkBucket = (site: string): string => `tessera-uplink-${site}`;

/**
 * What a site (its gateway at the site server, its leaf credential at the hub) publishes to put an
 * object into its uplink bucket at the hub: the bucket's stream info/create and meta read through the
 * hub's JetStream API, and the chunk and meta subjects, which the hub's stream captures over the link.
 */
export function siteUplinkObjectGrants(site: string, hubDomain: string): string[] {
  const bucket = siteUplinkBucket(site);
  return [`$O.${bucket}.>`, ...['INFO', 'CREATE', 'MSG.GET'].map((v) => `${jsApiPrefix(hubDomain)}.STREAM.${v}.OBJ_${bucket}`)];
}

/** A JetStream stream source on the hub for one site's feedback stream. */
export function siteFeedbackSource(site: string, domain: string, stream = FEEDBACK_STREAM): { name: string; external: { api: string; deliver: string } } {
  return { name: stream, external: { api: jsApiPrefix(domain), deliver: siteDeliverPrefix(site) } };
}

export interface SubjectPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
}

/**
 * What a site's leaf connection may do at the hub (publish = site → hub, subscribe = hub → site),
 * found by running sourcing and the uplink through a 2.9.10 hub with everything else denied:
 * - publish: its work (`tessera.work.uplink.>`, and the direct offers on `tessera.uplink.>`; hub decoders'
 *   site subjects `tessera.hubmodel.>` for the models it orchestrates itself: as wide as the decoder's
 *   subscription there, or the hub would not propagate that interest over the leaf; the decoder binds
 *   Generate alone, text only, and answers anything else UNIMPLEMENTED), the two hub JetStream API calls a producer makes
 *   (INFO, STREAM.INFO of TESSERA_UPLINK), its own uplink bucket (`siteUplinkObjectGrants`), cancel/credit on its own inboxes, the sourced feedback
 *   delivered on its own prefix, and `$JSC.R.>`: the replies of its JetStream to the hub's source
 *   consumer requests (nats-server picks that reply subject; it carries no tenant data).
 * - subscribe: answers on its own inboxes, the hub's requests to its own JetStream domain, flow
 *   control of the sourcing consumer (`$JS.FC.>`, empty bodies), and its model advertisements
 *   (`tessera.site.<site>.model.>`: interest only, nothing is ever sent there).
 * Everything else is denied: other sites' inboxes and deliveries, every tenant's feedback subjects,
 * the stage work queues and the stages' own subjects (a hub decoder is reached only on the subjects it
 * serves sites on, nothing else at the hub), control subjects.
 */
export function siteLeafPermissions(site: string, siteDomain: string, hubDomain: string): SubjectPermissions {
  const hubApi = jsApiPrefix(hubDomain);
  return {
    publish: {
      allow: [`tessera.work.${UPLINK_STAGE}.>`, `${UPLINK_NAMESPACE}.>`, `${HUB_MODEL_SUBJECTS}.>`, `${hubApi}.INFO`, `${hubApi}.STREAM.INFO.${UPLINK_STREAM}`, ...siteUplinkObjectGrants(site, hubDomain), `${siteInboxPrefix(site)}.>`, `${siteDeliverPrefix(site)}.>`, '$JSC.R.>'],
    },
    subscribe: { allow: [`${siteInboxPrefix(site)}.>`, `${jsApiPrefix(siteDomain)}.>`, '$JS.FC.>', `${siteModelPrefix(site)}.>`] },
  };
}
