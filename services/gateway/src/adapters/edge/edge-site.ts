/**
 * The gateway as an edge site's gateway (TESSERA_SITE_CONFIG set): the hub link probe, the router
 * over the local orchestrator and the hub uplink, the model advertisement the hub's /leafz shows,
 * and the feedback backlog gauges. The site's own feedback service writes the site stream (its
 * TESSERA_FEEDBACK, in the site's JetStream domain) that the hub's stream sources.
 */
import { ErrorCode, TesseraError, type Logger, type ServiceClient } from '@tessera/runtime';
import { gatewayV1, type feedbackV1 } from '@tessera/contracts';
import { advertiseModels, FeedbackBacklog, HubLink, type SiteConfig } from '@tessera/edge';
import { FAMILIES } from '@tessera/model/text';
import { Metric, metrics } from '@tessera/telemetry';
import type { NatsConnection } from 'nats';
import type { ChatService } from '../../domain/chat-events.js';
import { HubChat, toProto, type HubChatOptions } from './hub-chat.js';
import type { ValidChatRequest } from '../../domain/openai/valid-request.js';
import { SiteRouter, type HubStages } from '../../domain/edge/site-router.js';
import { loadModelInfo, type ModelInfo } from '../../domain/orchestrator/model-catalog.js';

/** How often the feedback backlog is read from the site stream. */
const BACKLOG_POLL_MS = 2_000;

export interface EdgeSite {
  router: SiteRouter;
  link: HubLink;
  /** The uplink to the hub gateway: chats for hub models (through the router) and feedback on their answers. */
  hub: HubChat;
  close(): void;
}

/** Site models must be the one this gateway's orchestrator serves (TESSERA_GATEWAY_MODEL_ID); a hub model's declared family must be one we know. */
export function checkSiteModels(site: SiteConfig, localModelId: string): void {
  site.models.forEach((m, i) => {
    if (m.family !== undefined && !(m.family in FAMILIES)) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `site config: models[${i}].family: "${m.family}" is not a model family (known: ${Object.keys(FAMILIES).join(', ')})`, { field: `models[${i}].family` });
    }
    if (m.place === 'site' && m.id !== localModelId) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `site config: models[${i}].id: "${m.id}" is placed at the site, but this gateway serves "${localModelId}" (TESSERA_GATEWAY_MODEL_ID)`, { field: `models[${i}].id` });
    }
  });
}

/**
 * The cards (manifest, config, tokenizer) of the hub models this site orchestrates itself (route
 * "stages"), read at start: a missing or unreadable card, or one of another family than the one
 * declared, refuses the start naming `models[i].modelDir` / `.family`.
 */
export function loadHubModelCards(site: SiteConfig): Map<string, ModelInfo> {
  const cards = new Map<string, ModelInfo>();
  site.models.forEach((m, i) => {
    if (m.route?.kind !== 'stages') return;
    let card: ModelInfo;
    try {
      card = loadModelInfo(m.route.modelDir, m.id);
    } catch (err) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `site config: models[${i}].modelDir: cannot read the model card of "${m.id}" at ${m.route.modelDir} (${(err as Error).message}); it needs the built model directory's manifest.json, config.json and tokenizer files`, { field: `models[${i}].modelDir` }, { cause: err });
    }
    if (m.family !== undefined && m.family !== card.family) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `site config: models[${i}].family: "${m.family}" is declared, but the card at ${m.route.modelDir} is a ${card.family} model`, { field: `models[${i}].family` });
    }
    cards.set(m.id, card);
  });
  return cards;
}

/**
 * A request's size on the wire, measured as the uplink's ChatCompletionRequest (the decoder's
 * GenerateRequest carries the same texts, tools and schema): the stages route sends it inline only
 * up to 384 KiB, a margin under the 512 KiB claim-check threshold (runtime payload.ts), since a
 * claim check would land in this site's payload bucket, out of the hub decoder's reach.
 */
export function fitsInlineAtHub(req: ValidChatRequest): boolean {
  return gatewayV1.ChatCompletionRequest.encode(toProto(req)).finish().length <= STAGES_INLINE_BYTES;
}
const STAGES_INLINE_BYTES = 384 * 1024;

export async function openEdgeSite(nc: NatsConnection, site: SiteConfig, local: ChatService, o: { heartbeatMs: number; uplink: HubChatOptions['uplink']; log: Logger; stages?: ReadonlyMap<string, HubStages> }): Promise<EdgeSite> {
  const link = await new HubLink(nc, { hubDomain: site.hubDomain, intervalMs: site.probeIntervalMs }).start();
  const up = metrics().gauge(Metric.edgeHubLinkUp);
  up.set({ site: site.site }, link.state === 'up' ? 1 : 0);
  link.onChange((s) => {
    up.set({ site: site.site }, s === 'up' ? 1 : 0);
    o.log.info('edge.hub_link', { site: site.site, state: s });
  });
  const hub = new HubChat(nc, { site: site.site, hubDomain: site.hubDomain, heartbeatMs: o.heartbeatMs, uplink: o.uplink });
  const router = new SiteRouter(site, local, hub, link, o.stages);
  const advert = advertiseModels(nc, site);
  const backlog = new FeedbackBacklog(await nc.jetstreamManager());
  const pending = metrics().gauge(Metric.edgeFeedbackPending);
  const dropped = metrics().counter(Metric.edgeFeedbackDropped);
  let droppedSoFar = 0;
  const timer = setInterval(() => {
    backlog.poll(link.state === 'up').then(
      (b) => {
        pending.set({ site: site.site }, b.pending);
        if (b.dropped > droppedSoFar) {
          o.log.warn('edge.feedback_dropped', { site: site.site, dropped: b.dropped - droppedSoFar, maxMessages: b.maxMessages, maxBytes: b.maxBytes });
          dropped.inc({ site: site.site }, b.dropped - droppedSoFar);
          droppedSoFar = b.dropped;
        }
      },
      () => {}, // the site's feedback service has not created the stream yet
    );
  }, BACKLOG_POLL_MS);
  timer.unref();
  o.log.info('edge.site', { site: site.site, domain: site.domain, hubDomain: site.hubDomain, link: link.state, models: site.models.map((m) => `${m.id}@${m.place}${o.stages?.has(m.id) ? '(stages)' : ''}`).join(',') });
  return {
    router,
    link,
    hub,
    close() {
      clearInterval(timer);
      link.stop();
      advert.close();
    },
  };
}

/**
 * The site's feedback client, for both edges (HTTP and gRPC): feedback whose response the site's own
 * store does not know (NOT_FOUND for the response or a preference side) may be about a hub model's
 * answer, which the hub recorded under the same id: it goes to the hub's SubmitFeedback over the uplink
 * (docs/edge.md "Feedback on hub answers"). Everything else is the site's own feedback service.
 */
export function feedbackWithHubAnswers(site: ServiceClient<typeof feedbackV1.FeedbackServiceService>, hub: Pick<HubChat, 'submitFeedback'>): ServiceClient<typeof feedbackV1.FeedbackServiceService> {
  return {
    ...site,
    submitFeedback: (req, o) => site.submitFeedback(req, o).catch((err: unknown) => (unknownResponse(err) ? hub.submitFeedback(req, o ?? {}).catch(hubUnreachable) : Promise.reject(err))),
  };
}

/** The hub out of reach (link down, no hub gateway): 503 with a retry hint, saying where the check happens. */
function hubUnreachable(err: unknown): never {
  const e = TesseraError.from(err);
  if (e.code !== ErrorCode.UNAVAILABLE) throw e;
  throw new TesseraError(ErrorCode.UNAVAILABLE, `feedback.response_id: not an answer of this site, and the hub, where hub models' answers are recorded, cannot be reached (${e.message}); retry when the link is back`, { field: 'feedback.response_id', retryAfterMs: e.details.retryAfterMs ?? 1_000 }, { cause: err });
}

/** The feedback service's "no such response" (feedback-core `unknownResponse`: the response or a preference side). */
function unknownResponse(err: unknown): boolean {
  const e = err instanceof TesseraError ? err : undefined;
  return e?.code === ErrorCode.NOT_FOUND && (e.details.field === 'feedback.response_id' || e.details.field === 'feedback.preference');
}
