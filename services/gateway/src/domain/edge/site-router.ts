/**
 * The edge gateway's ChatService: each model is served where the site config says. Site models go
 * to the local orchestrator (stages at this site); hub models go over the leaf link (HubChat). While
 * the hub is unreachable, a hub model answers per its policy: `fail` → 503 + Retry-After at once
 * (the link probe knows within ~1 s, a call that finds no responders marks it down immediately), or
 * `serve-local-model-X` → model X at the site answers, and the response says so.
 */
import { ErrorCode, TesseraError } from '@tessera/errors';
import { Metric, metrics } from '@tessera/telemetry';
import { hubDownError, type HubLink, type SiteConfig, type SiteModel } from '@tessera/edge';
import type { ChatContext, ChatEvent, ChatService } from '../chat-events.js';
import { modelFeatures, type ModelFeatures } from '../openai/response-format.js';
import type { ValidChatRequest } from '../openai/valid-request.js';
import { unknownModel } from '../openai/validate-common.js';
import type { Tenant } from '../tenancy/api-keys.js';

/** A hub model this site orchestrates itself (site config route "stages"): its orchestrator against the hub decoder, and its family from the model card. */
export interface HubStages {
  chat: ChatService;
  family: string;
  /**
   * Whether a request goes inline to the hub decoder: one above the bus's claim-check threshold would
   * be claim-checked into this site's payload bucket, which the hub decoder cannot read (compose
   * measures the request's wire size); it takes the gateway route, which carries large requests.
   */
  fitsInline(req: ValidChatRequest): boolean;
}

/** What the stages route runs: text (a chat, a completion, token ids); images, video and collections need the hub's other stages and stores. */
export function runsOnStages(req: ValidChatRequest): boolean {
  return req.images.length === 0 && (req.videos?.length ?? 0) === 0 && req.collection === undefined;
}

export class SiteRouter implements ChatService {
  private readonly byId: Map<string, SiteModel>;
  /** Each hub-model request's route (remote()). */
  private readonly routes = new WeakMap<ValidChatRequest, ChatService>();

  constructor(
    private readonly site: SiteConfig,
    /** The orchestrator of the models served at this site. */
    private readonly local: ChatService,
    private readonly hub: ChatService,
    private readonly link: HubLink,
    /** Hub models with route "stages", by id. */
    private readonly stages: ReadonlyMap<string, HubStages> = new Map(),
    private readonly retryAfterMs = 2_000,
  ) {
    this.byId = new Map(site.models.map((m) => [m.id, m]));
  }

  /** Who runs a request for hub model `m`: this site against the hub decoder (route "stages", text), else the hub gateway. */
  private remote(m: SiteModel, req: ValidChatRequest): ChatService {
    // Decided once per request: the quota estimate and the chat ask for the same request object, and
    // fitsInline encodes the request to measure it.
    let remote = this.routes.get(req);
    if (!remote) {
      const stages = this.stages.get(m.id);
      remote = stages && runsOnStages(req) && stages.fitsInline(req) ? stages.chat : this.hub;
      this.routes.set(req, remote);
    }
    return remote;
  }

  models(): string[] {
    return this.site.models.map((m) => m.id);
  }

  /** `a (site shop-1), b (hub, fallback a)`: the 404 for an unknown model lists where models run. */
  whereModelsRun(): string {
    return this.site.models.map((m) => `${m.id} (${m.place === 'site' ? `site ${this.site.site}` : `hub${m.fallback.kind === 'local' ? `, falls back to ${m.fallback.model}` : ''}`})`).join(', ');
  }

  describe(id: string): Record<string, unknown> {
    const m = this.byId.get(id);
    if (!m) return {};
    return {
      tessera_place: m.place,
      tessera_site: this.site.site,
      ...(m.place === 'hub' && this.familyOf(m) && { family: this.familyOf(m) }),
      ...(m.place === 'hub' && { tessera_hub_link: this.link.state, tessera_fallback: m.fallback.kind === 'local' ? `serve-local-model-${m.fallback.model}` : 'fail', tessera_route: this.stages.has(m.id) ? 'stages' : 'gateway' }),
    };
  }

  /**
   * What a request for `id` is checked against (tool calls, …): a site model is this gateway's own
   * (`local`); a hub model is the family the site config declares for it, so a 2.6 site does not
   * refuse or shape a request for the hub's 4.6 by its own family. Undeclared: the site lets the
   * request through and the hub's validation, which knows its family, decides.
   */
  features(id: string, local: ModelFeatures): ModelFeatures {
    const m = this.byId.get(id);
    if (m?.place !== 'hub') return local;
    const family = this.familyOf(m);
    return family ? modelFeatures(family) : { toolCalls: true, familyName: 'a hub model (family not declared at this site)' };
  }

  /** A hub model's family: declared, or read from its card (route "stages"; compose checks the two agree). */
  private familyOf(m: SiteModel): string | undefined {
    return m.family ?? this.stages.get(m.id)?.family;
  }

  private model(id: string): SiteModel {
    const m = this.byId.get(id);
    if (!m) throw unknownModel(id, [...this.byId.keys()], this.whereModelsRun());
    return m;
  }

  estimatePromptTokens(req: ValidChatRequest, tenant: Tenant): Promise<number> {
    const m = this.model(req.model);
    if (m.place === 'hub' && !(this.link.state === 'down' && m.fallback.kind === 'local')) return this.remote(m, req).estimatePromptTokens(req, tenant);
    return this.local.estimatePromptTokens(m.place === 'hub' && m.fallback.kind === 'local' ? { ...req, model: m.fallback.model } : req, tenant);
  }

  async *chat(req: ValidChatRequest, ctx: ChatContext): AsyncIterable<ChatEvent> {
    const m = this.model(req.model);
    if (m.place === 'site') {
      ctx.onRoute?.({ model: m.id, servedBy: `site:${this.site.site}` });
      yield* this.local.chat(req, ctx);
      return;
    }
    if (this.link.state !== 'down') {
      const remote = this.remote(m, req);
      const events = remote.chat(req, ctx)[Symbol.asyncIterator]();
      let first: IteratorResult<ChatEvent> | undefined;
      try {
        first = await events.next();
      } catch (err) {
        // Nothing reached the client yet: an unreachable hub may still fall back.
        if (!isUnreachable(err)) throw err;
        // The hub gateway unreachable says the link is down. A hub decoder unreachable on the stages
        // route says only that this model has no decoder serving sites now (scaled to zero, another
        // revision, draining): the other hub models still answer, so the link stays as the probe sees it.
        if (remote === this.hub) this.link.reportFailure();
      }
      if (first) {
        ctx.onRoute?.({ model: m.id, servedBy: 'hub' });
        if (first.done) return;
        // Each answer chunk proves the link: the link skips its probe while they arrive.
        this.link.reportAlive();
        yield first.value;
        for (let r = await events.next(); !r.done; r = await events.next()) {
          this.link.reportAlive();
          yield r.value;
        }
        return;
      }
    }
    if (m.fallback.kind === 'fail') throw hubDownError(`model "${m.id}" runs at the hub`, this.retryAfterMs);
    metrics().counter(Metric.edgeFallbacks).inc({ site: this.site.site, model: m.id, fallback: m.fallback.model });
    ctx.onRoute?.({ model: m.fallback.model, servedBy: `site:${this.site.site}`, fallbackFor: m.id });
    yield* this.local.chat({ ...req, model: m.fallback.model }, ctx);
  }
}

/** The hub could not be reached at all (no responders on the uplink queue, or the link dropped). */
function isUnreachable(err: unknown): boolean {
  const e = TesseraError.from(err);
  return e.code === ErrorCode.UNAVAILABLE;
}
