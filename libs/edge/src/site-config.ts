/**
 * An edge site's configuration: its name, its own JetStream domain, the hub's domain, and where each
 * served model runs (`site` = at this site, `hub` = forwarded over the leaf connection) with a policy
 * for when the hub cannot be reached. Validated once at start into a frozen `SiteConfig`; every
 * failure names the field (`domain`, `models[1].fallback`) and what was expected.
 *
 * The JSON file (TESSERA_SITE_CONFIG) looks like:
 *   { "site": "shop-12", "domain": "shop-12", "hubDomain": "hub",
 *     "models": [ { "id": "minicpm-v-4_6", "place": "site" },
 *                 { "id": "minicpm-v-2_6", "place": "hub", "family": "2.6", "fallback": "serve-local-model-minicpm-v-4_6" },
 *                 { "id": "minicpm-v-4_5", "place": "hub", "route": "stages", "modelDir": "/models/minicpm-v-4_5-card" } ] }
 * A hub model's `route` says who orchestrates its text requests: `gateway` (default) forwards each to the
 * hub gateway; `stages` has this site's gateway run them against the hub's decoder itself, which needs
 * the model's card at the site (`modelDir`: its built directory's manifest, config and tokenizer, no
 * weights). Requests with images, video or a collection still go to the hub gateway (docs/edge.md).
 * The site's feedback stream limits are the site feedback service's (TESSERA_FEEDBACK_STREAM_MAX_EVENTS/_BYTES).
 */
import { readFileSync } from 'node:fs';
import { ErrorCode, TesseraError } from '@tessera/errors';

export type ModelPlace = 'site' | 'hub';

/** `fail`: 503 + Retry-After while the hub is unreachable; `local`: answer with a model served at the site. */
export type FallbackPolicy = { kind: 'fail' } | { kind: 'local'; model: string };

export interface SiteModel {
  id: string;
  place: ModelPlace;
  fallback: FallbackPolicy;
  /**
   * Hub models: the family the hub serves this model as ("2.6", "4.5", "4.6"), so the site's gateway
   * checks a request (tool calls, …) against that family rather than its own local one. Left out, the
   * site passes the request on and the hub's validation decides. Site models are the gateway's own.
   */
  family?: string;
  /**
   * Hub models: `gateway` (default) — the hub gateway orchestrates every request; `stages` — this
   * site's gateway orchestrates text requests against the hub decoder itself (the hop's TTFT cost
   * without a second gateway), from the model card in `modelDir`.
   */
  route?: { kind: 'gateway' } | { kind: 'stages'; modelDir: string };
}

export interface SiteConfig {
  /** Site name: one NATS subject token, also the leaf credential's user and the inbox prefix suffix. */
  site: string;
  /** This site's JetStream domain (its own streams: feedback, encoder cache, local work queues). */
  domain: string;
  /** The hub's JetStream domain: hub work queues are reached through `$JS.<hubDomain>.API`. */
  hubDomain: string;
  models: readonly SiteModel[];
  /** How often the hub link is probed (`$JS.<hubDomain>.API.INFO`). Default 500 ms: a lost link is seen within ~1 s, well inside the 2 s fail-fast budget. */
  probeIntervalMs: number;
}

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const FALLBACK_LOCAL = 'serve-local-model-';
const MODEL_FIELDS = ['id', 'place', 'fallback', 'family', 'route', 'modelDir'];

function bad(field: string, message: string, limit?: string): TesseraError {
  return new TesseraError(ErrorCode.INVALID_ARGUMENT, `site config: ${field}: ${message}`, { field, ...(limit && { limit }) });
}

function token(v: unknown, field: string): string {
  if (typeof v !== 'string' || !TOKEN.test(v)) throw bad(field, `expected a name of 1-64 letters, digits, '-' or '_' (one NATS subject token), got ${JSON.stringify(v)}`, '[A-Za-z0-9_-]{1,64}');
  return v;
}

function positiveInt(v: unknown, field: string, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw bad(field, `expected an integer from 1 to ${max}, got ${JSON.stringify(v)}`, `1..${max}`);
  return v;
}

/** Validates a parsed site config object. */
export function parseSiteConfig(raw: unknown): SiteConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('(root)', 'expected a JSON object');
  const r = raw as Record<string, unknown>;
  const known = new Set(['site', 'domain', 'hubDomain', 'models', 'probeIntervalMs']);
  for (const k of Object.keys(r)) if (!known.has(k)) throw bad(k, `unknown field (known: ${[...known].join(', ')})`);
  const site = token(r.site, 'site');
  const domain = token(r.domain ?? site, 'domain');
  const hubDomain = token(r.hubDomain, 'hubDomain');
  // Two JetStream domains with one name make `$JS.<domain>.API` ambiguous across the leaf link: the
  // site's requests for hub streams could be answered by its own server (or the reverse).
  if (domain === hubDomain) throw bad('domain', `the site's JetStream domain "${domain}" is the hub's domain (hubDomain); give the site its own domain, e.g. "${site === hubDomain ? `${site}-site` : site}"`);
  if (!Array.isArray(r.models) || r.models.length === 0) throw bad('models', 'expected a non-empty list of { id, place, fallback? }');
  const ids = new Set<string>();
  const models = r.models.map((m: unknown, i: number): SiteModel => {
    const f = `models[${i}]`;
    if (typeof m !== 'object' || m === null) throw bad(f, 'expected { id, place, fallback? }');
    const o = m as Record<string, unknown>;
    // A misspelt key (`modeldir`) would silently change where requests run.
    for (const k of Object.keys(o)) if (!MODEL_FIELDS.includes(k)) throw bad(`${f}.${k}`, `unknown field (known: ${MODEL_FIELDS.join(', ')})`);
    if (typeof o.id !== 'string' || o.id.length === 0 || o.id.length > 256) throw bad(`${f}.id`, 'expected a model id of 1-256 characters');
    if (ids.has(o.id)) throw bad(`${f}.id`, `model "${o.id}" is listed twice`);
    ids.add(o.id);
    if (o.place !== 'site' && o.place !== 'hub') throw bad(`${f}.place`, `expected "site" or "hub", got ${JSON.stringify(o.place)}`);
    if (o.family !== undefined && o.place === 'site') throw bad(`${f}.family`, "a site model is this gateway's own model (its family comes from the model files); family is for hub models");
    if (o.family !== undefined && (typeof o.family !== 'string' || !/^[0-9][0-9.]{0,15}$/.test(o.family))) throw bad(`${f}.family`, `expected a model family such as "2.6" or "4.6", got ${JSON.stringify(o.family)}`);
    const route = parseRoute(o, f);
    return { id: o.id, place: o.place, fallback: parseFallback(o.fallback, `${f}.fallback`), ...(typeof o.family === 'string' && { family: o.family }), ...(route && { route }) };
  });
  models.forEach((m, i) => {
    if (m.fallback.kind !== 'local') return;
    const f = `models[${i}].fallback`;
    if (m.place === 'site') throw bad(f, 'a model served at the site needs no fallback (use "fail" or leave it out)');
    const target = models.find((x) => x.id === (m.fallback as { model: string }).model);
    if (!target || target.place !== 'site') throw bad(f, `"${FALLBACK_LOCAL}${m.fallback.model}" names no model served at this site (site models: ${models.filter((x) => x.place === 'site').map((x) => x.id).join(', ') || 'none'})`);
  });
  const probeIntervalMs = positiveInt(r.probeIntervalMs, 'probeIntervalMs', 500, 60_000);
  return deepFreeze({ site, domain, hubDomain, models, probeIntervalMs });
}

function parseRoute(o: Record<string, unknown>, f: string): SiteModel['route'] {
  if (o.route === undefined && o.modelDir === undefined) return undefined;
  if (o.place === 'site') throw bad(o.route !== undefined ? `${f}.route` : `${f}.modelDir`, 'a site model is served by this gateway from its own model; route and modelDir are for hub models');
  if (o.route !== undefined && o.route !== 'gateway' && o.route !== 'stages') throw bad(`${f}.route`, `expected "gateway" or "stages", got ${JSON.stringify(o.route)}`, 'gateway | stages');
  if (o.route !== 'stages') {
    if (o.modelDir !== undefined) throw bad(`${f}.modelDir`, 'only a hub model with route "stages" uses a model card at the site');
    return { kind: 'gateway' };
  }
  if (typeof o.modelDir !== 'string' || o.modelDir.length === 0) throw bad(`${f}.modelDir`, 'route "stages" needs the hub model\'s card at the site: the path of its built model directory (manifest, config and tokenizer files)');
  return { kind: 'stages', modelDir: o.modelDir };
}

function parseFallback(v: unknown, field: string): FallbackPolicy {
  if (v === undefined || v === 'fail') return { kind: 'fail' };
  if (typeof v === 'string' && v.startsWith(FALLBACK_LOCAL) && v.length > FALLBACK_LOCAL.length) return { kind: 'local', model: v.slice(FALLBACK_LOCAL.length) };
  throw bad(field, `expected "fail" or "${FALLBACK_LOCAL}<model id>", got ${JSON.stringify(v)}`, `fail | ${FALLBACK_LOCAL}<id>`);
}

/** Reads and validates the site config file; errors name TESSERA_SITE_CONFIG and the field. */
export function loadSiteConfig(path: string): SiteConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `TESSERA_SITE_CONFIG: cannot read ${path} (${(err as Error).message})`, { field: 'TESSERA_SITE_CONFIG' }, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `TESSERA_SITE_CONFIG: ${path} is not JSON (${(err as Error).message})`, { field: 'TESSERA_SITE_CONFIG' }, { cause: err });
  }
  return parseSiteConfig(raw);
}

export function siteModels(c: SiteConfig): SiteModel[] {
  return c.models.filter((m) => m.place === 'site');
}

export function hubModels(c: SiteConfig): SiteModel[] {
  return c.models.filter((m) => m.place === 'hub');
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
