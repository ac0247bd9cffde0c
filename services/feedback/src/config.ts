/** Feedback configuration: the shared keys plus the log, the store and every limit (README "Configuration"). */
import { bool, bytes, commonServiceConfig, duration, int, loadConfig, oneOf, parseDuration, string, type ConfigOf } from '@tessera/config';
import type { FeedbackSettings } from './compose.js';
import { siteFeedbackSource } from '@tessera/edge';
import { DEFAULT_LIMITS } from './domain/limits.js';
import { Taxonomy } from './domain/taxonomy.js';

const DAY = 86_400_000;

export const schema = {
  ...commonServiceConfig({ serviceName: 'feedback', grpcPort: 50056 }),
  stream: string({ env: 'TESSERA_FEEDBACK_STREAM', default: 'TESSERA_FEEDBACK', pattern: /^[A-Za-z0-9_-]+$/, doc: 'JetStream stream holding the feedback log (the source of truth)' }),
  replicas: int({ env: 'TESSERA_FEEDBACK_REPLICAS', optional: true, min: 1, max: 5, doc: 'stream replicas (3 in a NATS cluster); default TESSERA_JETSTREAM_REPLICAS' }),
  dedupeWindow: duration({ env: 'TESSERA_FEEDBACK_DEDUPE_WINDOW', default: 120_000, min: 1_000, max: DAY, doc: 'Nats-Msg-Id duplicate window; retries later than this are caught by the projector' }),
  maxEventBytes: bytes({ env: 'TESSERA_FEEDBACK_MAX_EVENT_BYTES', default: 1024 * 1024 - 8 * 1024, min: 16 * 1024, max: 64 * 1024 * 1024, doc: 'largest log event (NATS max_payload is 1MiB by default; headers need a few KiB)' }),
  streamMaxEvents: int({ env: 'TESSERA_FEEDBACK_STREAM_MAX_EVENTS', default: -1, min: -1, max: 1_000_000_000, doc: 'edge site: events the stream keeps; beyond it the oldest are discarded first: warned of at the site, counted exactly at the hub (tessera_feedback_site_events_dropped_total) (-1 = no limit; the site profile sets 1,000,000)' }),
  streamMaxBytes: int({ env: 'TESSERA_FEEDBACK_STREAM_MAX_BYTES', default: -1, min: -1, max: 2 ** 50, doc: 'edge site: bytes the stream keeps, oldest discarded first (-1 = no limit)' }),
  sites: string({ env: 'TESSERA_FEEDBACK_SITES', default: '', doc: 'hub: edge sites whose feedback streams this stream sources across JetStream domains, `site` or `site=domain`, comma-separated (docs/edge.md); counts what each site discarded before it was sourced (tessera_feedback_site_events_dropped_total{site}, log feedback.site_dropped)' }),
  ackTimeout: duration({ env: 'TESSERA_FEEDBACK_ACK_TIMEOUT', default: 5_000, min: 100, max: 60_000, doc: 'how long a write waits for the stream acknowledgement' }),
  store: oneOf(['file', 'postgres'], { env: 'TESSERA_FEEDBACK_STORE', default: 'file', doc: 'queryable store: embedded files or PostgreSQL' }),
  dataDir: string({ env: 'TESSERA_DATA_DIR', default: './data/feedback', doc: 'file store directory (log.jsonl + snapshot.json); the chart mounts a volume here' }),
  snapshotEvery: int({ env: 'TESSERA_FEEDBACK_SNAPSHOT_EVERY', default: 50_000, min: 100, max: 10_000_000, doc: 'file store: compact after this many events' }),
  fsync: bool({ env: 'TESSERA_FEEDBACK_FSYNC', default: false, doc: 'file store: fsync every batch (power-loss safety; kill -9 is safe without)' }),
  pgUrl: string({ env: 'TESSERA_FEEDBACK_PG_URL', optional: true, doc: 'PostgreSQL connection string (store=postgres)' }),
  pgSchema: string({ env: 'TESSERA_FEEDBACK_PG_SCHEMA', default: 'tessera_feedback', pattern: /^[a-z_][a-z0-9_]{0,62}$/, doc: 'PostgreSQL schema for the tables' }),
  pgPool: int({ env: 'TESSERA_FEEDBACK_PG_POOL', default: 4, min: 1, max: 100, doc: 'PostgreSQL connections' }),
  projector: string({ env: 'TESSERA_FEEDBACK_PROJECTOR', default: 'feedback-projector', pattern: /^[A-Za-z0-9_-]+$/, doc: 'durable consumer name of this store’s projector (one per store)' }),
  projectorBatch: int({ env: 'TESSERA_FEEDBACK_PROJECTOR_BATCH', default: 512, min: 1, max: 10_000, doc: 'events pulled and written per batch' }),
  catchUp: duration({ env: 'TESSERA_FEEDBACK_CATCH_UP', default: 5_000, min: 10, max: 120_000, doc: 'how long a call waits for the projector to reach the log head (read-your-writes)' }),
  retention: duration({ env: 'TESSERA_FEEDBACK_RETENTION', default: 90 * DAY, min: 60_000, max: 3650 * DAY, doc: 'how long responses and their feedback are kept' }),
  retentionByTenant: string({ env: 'TESSERA_FEEDBACK_RETENTION_BY_TENANT', default: '', doc: 'per-tenant retention, e.g. `acme:30d,beta:7d`' }),
  categories: string({ env: 'TESSERA_FEEDBACK_CATEGORIES', default: '', doc: 'extra span categories, comma-separated paths (e.g. `attribute/color,object/animal`)' }),
  adminTenants: string({ env: 'TESSERA_FEEDBACK_ADMIN_TENANTS', default: '', doc: 'tenants that may read, export and erase other tenants' }),
  reviewMeasure: oneOf(['span', 'surprisal'], { env: 'TESSERA_FEEDBACK_REVIEW_MEASURE', default: 'span', doc: 'review uncertainty: least confident span, or mean token surprisal' }),
  maxExportRows: int({ env: 'TESSERA_FEEDBACK_MAX_EXPORT_ROWS', default: 1_000_000, min: 1, max: 100_000_000, doc: 'largest max_rows of one export' }),
  exportImageCache: bytes({ env: 'TESSERA_FEEDBACK_EXPORT_IMAGE_CACHE', default: 64 * 1024 * 1024, min: 0, max: 16 * 1024 ** 3, doc: 'data URLs an inline export keeps between rows (rows repeat a prompt\'s images; 0 = read every row\'s images again)' }),
  eraseObjects: bool({ env: 'TESSERA_FEEDBACK_ERASE_OBJECTS', default: true, doc: 'erasure also deletes the tenant’s images from the object store (when no other tenant refers to them)' }),
  sweepInterval: duration({ env: 'TESSERA_FEEDBACK_SWEEP_INTERVAL', default: 600_000, min: 1_000, max: DAY, doc: 'how often expired responses are deleted from the store' }),
  maxSpans: int({ env: 'TESSERA_FEEDBACK_MAX_SPANS', default: DEFAULT_LIMITS.maxSpans, min: 1, max: 1024, doc: 'span corrections per feedback' }),
  maxAnswerChars: int({ env: 'TESSERA_FEEDBACK_MAX_ANSWER_CHARS', default: DEFAULT_LIMITS.maxAnswerChars, min: 1, max: 1_000_000, doc: 'answer and correction length in code points' }),
  maxPromptChars: int({ env: 'TESSERA_FEEDBACK_MAX_PROMPT_CHARS', default: DEFAULT_LIMITS.maxPromptChars, min: 1, max: 4_000_000, doc: 'prompt text length (all messages)' }),
  maxMessages: int({ env: 'TESSERA_FEEDBACK_MAX_MESSAGES', default: DEFAULT_LIMITS.maxMessages, min: 1, max: 1024, doc: 'messages per stored prompt' }),
  maxImages: int({ env: 'TESSERA_FEEDBACK_MAX_IMAGES', default: DEFAULT_LIMITS.maxImages, min: 0, max: 256, doc: 'images per stored prompt' }),
  maxCommentChars: int({ env: 'TESSERA_FEEDBACK_MAX_COMMENT_CHARS', default: DEFAULT_LIMITS.maxCommentChars, min: 1, max: 100_000, doc: 'comment length in code points' }),
};

export type FeedbackConfig = ConfigOf<typeof schema>;

export function loadFeedbackConfig(env: Readonly<Record<string, string | undefined>> = process.env): FeedbackConfig {
  const c = loadConfig(schema, env);
  // Cross-field checks, with the same "variable: problem" style as ConfigError.
  parseRetentions(c.retentionByTenant);
  new Taxonomy(list(c.categories));
  if (c.store === 'postgres' && !c.pgUrl) throw new Error('TESSERA_FEEDBACK_PG_URL is required when TESSERA_FEEDBACK_STORE=postgres');
  return c;
}

function list(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}

/** `acme:30d,beta:7d` → { acme: 30 days in ms, … } */
export function parseRetentions(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of list(text)) {
    const i = item.lastIndexOf(':');
    const ms = i > 0 ? parseDuration(item.slice(i + 1)) : undefined;
    if (ms === undefined || ms < 60_000) throw new Error(`TESSERA_FEEDBACK_RETENTION_BY_TENANT: "${item}" must be tenant:duration (>= 1m), e.g. acme:30d`);
    out[item.slice(0, i)] = ms;
  }
  return out;
}

/** `shop-1,shop-2=eu-shop-2` → sources of the sites' TESSERA_FEEDBACK in their domains (default: the site name). */
export function parseSites(text: string): ReturnType<typeof siteFeedbackSource>[] {
  return list(text).map((item) => {
    const [site = '', domain = site] = item.split('=').map((s) => s.trim());
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(site) || !/^[A-Za-z0-9_-]{1,64}$/.test(domain)) throw new Error(`TESSERA_FEEDBACK_SITES: "${item}" must be site or site=domain (letters, digits, - and _)`);
    return siteFeedbackSource(site, domain);
  });
}

export function feedbackSettings(c: FeedbackConfig): FeedbackSettings {
  const retentionByTenant = parseRetentions(c.retentionByTenant);
  const longest = Math.max(c.retention, ...Object.values(retentionByTenant));
  return {
    // The stream keeps events one day longer than the longest retention, then drops them itself.
    log: { stream: c.stream, replicas: c.replicas ?? c.jetstreamReplicas, duplicateWindowMs: c.dedupeWindow, maxAgeMs: longest + DAY, maxEventBytes: c.maxEventBytes, ackTimeoutMs: c.ackTimeout, maxMessages: c.streamMaxEvents, maxBytes: c.streamMaxBytes, sources: parseSites(c.sites) },
    projector: { durable: c.projector, batch: c.projectorBatch, ackWaitMs: c.ackWait },
    store: c.store === 'file' ? { kind: 'file', dir: c.dataDir, snapshotEvery: c.snapshotEvery, fsync: c.fsync } : { kind: 'postgres', url: c.pgUrl!, schema: c.pgSchema, poolSize: c.pgPool },
    core: {
      limits: {
        ...DEFAULT_LIMITS,
        maxSpans: c.maxSpans,
        maxAnswerChars: c.maxAnswerChars,
        maxPromptChars: c.maxPromptChars,
        maxMessages: c.maxMessages,
        maxImages: c.maxImages,
        maxCommentChars: c.maxCommentChars,
        defaultRetentionMs: c.retention,
        retentionByTenant,
        extraCategories: list(c.categories),
      },
      catchUpMs: c.catchUp,
      maxExportRows: c.maxExportRows,
      exportImageCacheChars: c.exportImageCache,
      adminTenants: list(c.adminTenants),
      reviewMeasure: c.reviewMeasure,
      eraseObjects: c.eraseObjects,
    },
  };
}
