/**
 * Per-service NATS permissions: what each Tessera service may publish and subscribe, derived from
 * the subjects it serves and calls (subjects.ts), the JetStream streams and buckets it reads or
 * writes, and the JetStream API subjects those operations use. One user per service, so a slicer
 * credential cannot post decoder jobs, append feedback events or answer as the feedback service.
 *
 * Rendered as a nats-server `authorization { users = [...] }` block (global account, so JetStream
 * and KEDA keep account "$G"): `deploy/nats/auth.conf` and the chart's copy hold passwords as
 * `$TESSERA_NATS_<SERVICE>_PASSWORD` environment references; the local stack renders literal
 * passwords it generates at start. Edge sites (leaf nodes) reuse `servicePermissions` and
 * `renderNatsAuthorization` with their own users.
 *
 * Inboxes (inbox.ts): each user publishes and subscribes only its own `_INBOX.<user>.>`; the server of
 * service X may also publish to `_INBOX.<caller>.<x>.r.>` (its answers, stream chunks, work-queue
 * replies) and subscribe `_INBOX.<caller>.<x>.c.>` (cancel, credit, liveness pings) of each user
 * that calls X (and of `operator`). So no service reads another's replies or the JetStream API
 * answers it gets, and a server can write only into the inboxes its callers opened for it. Not
 * `allow_responses`: stream chunks and work-queue answers go to an inbox named in a header, and a
 * work-queue job's reply subject is JetStream's ack subject, so NATS would not track them as replies.
 *
 * Shared by every user, and why:
 * - `$JS.API.INFO`: nats.js asks it when a JetStream context is first used; `$JS.API.STREAM.NAMES`:
 *   object store views look their stream up by subject (names only, no contents).
 */
import { randomBytes } from 'node:crypto';
import { durableName, poisonAdvisorySubject, streamName, workSubjectFilter } from './subjects.js';
import { calleeInboxes, serviceInboxPrefix } from './inbox.js';

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/** The Tessera processes that log in to NATS (the `operator` user: CLI, `tessera ctl`, stream Job, tests). */
export const BUS_USERS = ['gateway', 'slicer', 'resampler', 'decoder', 'retrieval', 'feedback', 'operator'] as const;
export type BusUser = (typeof BUS_USERS)[number];

/** Request/reply services: `tessera.<domain>.<version>.<Service>.<Method>` (CONTRIBUTING.md "Shared names"). */
export const SERVICE_SUBJECTS = {
  slicer: 'tessera.vision.*.SlicerService.*',
  resampler: 'tessera.resampling.*.ResamplerService.*',
  decoder: 'tessera.decoding.*.DecoderService.*',
  retrieval: 'tessera.retrieval.*.RetrievalService.*',
  feedback: 'tessera.feedback.*.FeedbackService.*',
} as const;
type Served = keyof typeof SERVICE_SUBJECTS;

/** Stream and bucket names; the defaults of the shared configuration (libs/config common.ts, feedback config). */
export interface BusNames {
  payloadBucket: string;
  imageBucket: string;
  encoderCacheBucket: string;
  /** The gateway's stored /v1/responses (TESSERA_GATEWAY_RESPONSES_BUCKET). */
  responsesBucket: string;
  feedbackStream: string;
  feedbackSubjects: string;
  feedbackDurable: string;
}

export const DEFAULT_BUS_NAMES: BusNames = Object.freeze({
  payloadBucket: 'tessera-payloads',
  imageBucket: 'tessera-images',
  encoderCacheBucket: 'tessera-encoder-cache',
  responsesBucket: 'tessera-responses',
  feedbackStream: 'TESSERA_FEEDBACK',
  feedbackSubjects: 'tessera.feedback.events.>',
  feedbackDurable: 'feedback-projector',
});

class Grant {
  readonly pub = new Set<string>(['$JS.API.INFO', '$JS.API.STREAM.NAMES']);
  readonly sub = new Set<string>();
  /** Services this user calls (their servers answer into this user's inboxes). */
  readonly calls = new Set<Served>();
  /** Services this user serves. */
  readonly serves = new Set<Served>();

  /** Its own inboxes: replies, JetStream API answers, consumer deliveries, the control subjects it names. */
  inbox(prefix: string): this {
    this.pub.add(`${prefix}.>`);
    this.sub.add(`${prefix}.>`);
    return this;
  }

  /** Answer `caller`'s calls to `s`: publish its reply routes, subscribe its control subjects. */
  answer(s: Served, callerPrefix: string): this {
    const { replies, control } = calleeInboxes(callerPrefix, s);
    this.pub.add(`${replies}.>`);
    this.sub.add(`${control}.>`);
    return this;
  }

  /** Read a stream: info, single-message and direct gets, ordered/durable consumers (create, pull, ack, flow control, delete). */
  readStream(stream: string): this {
    for (const v of ['INFO', 'MSG.GET']) this.pub.add(`$JS.API.STREAM.${v}.${stream}`);
    this.pub.add(`$JS.API.DIRECT.GET.${stream}`).add(`$JS.API.DIRECT.GET.${stream}.>`);
    for (const v of ['CREATE', 'INFO', 'DELETE', 'MSG.NEXT', 'DURABLE.CREATE']) this.pub.add(`$JS.API.CONSUMER.${v}.${stream}`).add(`$JS.API.CONSUMER.${v}.${stream}.>`);
    this.pub.add(`$JS.ACK.${stream}.>`).add(`$JS.FC.${stream}.>`);
    return this;
  }

  /** Create or re-configure a stream this service owns or shares (every service ensures what it uses). */
  manageStream(stream: string): this {
    for (const v of ['INFO', 'CREATE', 'UPDATE']) this.pub.add(`$JS.API.STREAM.${v}.${stream}`);
    return this;
  }

  /** Object store bucket: read (claim-check gets), or also write, delete and purge a tenant's objects. */
  objects(bucket: string, write: boolean): this {
    const stream = `OBJ_${bucket}`;
    this.readStream(stream).manageStream(stream);
    if (write) {
      this.pub.add(`$O.${bucket}.>`);
      for (const v of ['PURGE', 'MSG.DELETE']) this.pub.add(`$JS.API.STREAM.${v}.${stream}`);
    }
    return this;
  }

  /** KV bucket (read + write: the encoder cache's writers and the gateway's erasure). */
  kv(bucket: string): this {
    const stream = `KV_${bucket}`;
    this.readStream(stream).manageStream(stream);
    this.pub.add(`$KV.${bucket}.>`).add(`$JS.API.STREAM.PURGE.${stream}`);
    return this;
  }

  /** Serve a request/reply service (queue group). */
  serve(s: Served): this {
    this.sub.add(SERVICE_SUBJECTS[s]);
    this.serves.add(s);
    return this;
  }

  call(s: Served): this {
    this.pub.add(SERVICE_SUBJECTS[s]);
    this.calls.add(s);
    return this;
  }

  /** Pull a stage's work queue: its stream and `<stage>-workers` consumer; poison advisories. */
  work(stage: string): this {
    const stream = streamName(stage);
    this.manageStream(stream);
    for (const v of ['INFO', 'CREATE', 'DURABLE.CREATE', 'MSG.NEXT']) this.pub.add(`$JS.API.CONSUMER.${v}.${stream}.${durableName(stage)}`).add(`$JS.API.CONSUMER.${v}.${stream}.${durableName(stage)}.>`);
    this.pub.add(`$JS.API.CONSUMER.UPDATE.${stream}.${durableName(stage)}`);
    this.pub.add(`$JS.ACK.${stream}.>`).add(poisonAdvisorySubject(stage));
    return this;
  }

  /** Post jobs to a stage's work queue (and withdraw one when a stream resumes elsewhere). */
  enqueue(stage: string): this {
    const stream = streamName(stage);
    this.manageStream(stream);
    this.pub.add(workSubjectFilter(stage)).add(`$JS.API.STREAM.MSG.DELETE.${stream}`);
    return this;
  }

  done(): NatsPermissions {
    return { publish: [...this.pub].sort(), subscribe: [...this.sub].sort() };
  }
}

export interface InboxOptions {
  /**
   * A user's inbox prefix when not `_INBOX.<user>` (connect.ts): an edge site's gateway uses
   * `_INBOX_<site>` (libs/edge), and the site's services then answer there.
   */
  inboxPrefixes?: Partial<Record<BusUser, string>>;
}

/** The inbox prefix each bus user connects with (connect.ts `defaultInboxPrefix`), after `inboxPrefixes`. */
export function busInboxPrefix(user: BusUser, o: InboxOptions = {}): string {
  return o.inboxPrefixes?.[user] ?? serviceInboxPrefix(user);
}

/**
 * Every service's permissions. Request/reply servers may answer large replies through the claim-check
 * bucket (service-host's payload policy), so every service writes `payloadBucket`.
 */
export function servicePermissions(names: Partial<BusNames> = {}, o: InboxOptions = {}): Record<BusUser, NatsPermissions> {
  const n = { ...DEFAULT_BUS_NAMES, ...names };
  const base = () => new Grant().objects(n.payloadBucket, true);
  const stages = ['slicer', 'resampler', 'decoder'] as const;
  const grants = buildGrants(n, base, stages);
  // Inboxes last, once every user's calls are known: a server answers each of its callers, and the
  // operator (CLI, `tessera ctl`, tests), who may call anything.
  const services = Object.keys(grants) as ServiceUser[];
  for (const u of services) {
    const g = grants[u].inbox(busInboxPrefix(u, o));
    for (const s of g.serves) {
      for (const caller of BUS_USERS) if (caller === 'operator' || grants[caller as ServiceUser].calls.has(s)) g.answer(s, busInboxPrefix(caller, o));
    }
  }
  return { ...(Object.fromEntries(services.map((u) => [u, grants[u].done()])) as Record<ServiceUser, NatsPermissions>), operator: { publish: ['>'], subscribe: ['>'] } };
}

type ServiceUser = Exclude<BusUser, 'operator'>;

function buildGrants(n: BusNames, base: () => Grant, stages: readonly ('slicer' | 'resampler' | 'decoder')[]): Record<ServiceUser, Grant> {
  return {
    gateway: stages
      .reduce((g, s) => g.call(s).enqueue(s), base())
      .call('retrieval')
      .call('feedback')
      .objects(n.imageBucket, true)
      .objects(n.encoderCacheBucket, true)
      .kv(n.encoderCacheBucket)
      .kv(n.responsesBucket),
    // The slicer reads admitted images by reference and, for a model without a resampler (4.6), writes the encoder cache.
    slicer: base().serve('slicer').work('slicer').objects(n.imageBucket, false).objects(n.encoderCacheBucket, true).kv(n.encoderCacheBucket),
    resampler: base().serve('resampler').work('resampler').objects(n.encoderCacheBucket, true).kv(n.encoderCacheBucket),
    // The decoder reads visual tokens by reference from the encoder cache's object store.
    decoder: base().serve('decoder').work('decoder').objects(n.encoderCacheBucket, false),
    retrieval: base().serve('retrieval'),
    feedback: (() => {
      const g = base().serve('feedback').objects(n.imageBucket, true).manageStream(n.feedbackStream).readStream(n.feedbackStream);
      // Appends events; a tenant's erasure purges its subjects from the log.
      g.pub.add(n.feedbackSubjects).add(`$JS.API.STREAM.PURGE.${n.feedbackStream}`);
      return g;
    })(),
  };
}

export interface BusUserLogin {
  user: string;
  /** A literal password, or `{ env: NAME }` for a nats-server `$NAME` reference (resolved from its environment). */
  password: string | { env: string };
  permissions: NatsPermissions;
}

/** The environment variable `deploy/nats/auth.conf` reads a user's password from: `TESSERA_NATS_SLICER_PASSWORD`. */
export const passwordEnv = (user: string) => `TESSERA_NATS_${user.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD`;

const q = (s: string) => JSON.stringify(s);
const list = (xs: readonly string[], indent: string) => `[\n${xs.map((x) => `${indent}  ${q(x)}`).join(',\n')}\n${indent}]`;

/** A nats-server `authorization { users = [...] }` block; nats-server refuses any client not listed. */
export function renderNatsAuthorization(users: readonly BusUserLogin[], header = ''): string {
  const body = users
    .map((u) => {
      const pw = typeof u.password === 'string' ? q(u.password) : `$${u.password.env}`;
      return [
        '    {',
        `      user: ${q(u.user)}`,
        `      password: ${pw}`,
        '      permissions: {',
        `        publish: { allow: ${list(u.permissions.publish, '        ')} }`,
        `        subscribe: { allow: ${list(u.permissions.subscribe, '        ')} }`,
        '      }',
        '    }',
      ].join('\n');
    })
    .join('\n');
  return `${header}authorization {\n  users = [\n${body}\n  ]\n}\n`;
}

/** The checked-in `deploy/nats/auth.conf`: every service's user, passwords from the server's environment. */
export function deployNatsAuthConf(names: Partial<BusNames> = {}): string {
  const perms = servicePermissions(names);
  const header =
    '# Generated by `node --import tsx scripts/gen-nats-auth.ts` from libs/runtime/src/nats/permissions.ts; do not edit.\n' +
    '# Per-service NATS users: each may publish/subscribe only its own subjects and the JetStream API\n' +
    '# subjects of the streams and buckets it uses. Include it in nats-server.conf and set the\n' +
    `# TESSERA_NATS_<SERVICE>_PASSWORD variables in the server's environment (${BUS_USERS.map(passwordEnv).join(', ')}).\n`;
  return renderNatsAuthorization(
    BUS_USERS.map((u) => ({ user: u, password: { env: passwordEnv(u) }, permissions: perms[u] })),
    header,
  );
}

/** Fresh random passwords for every bus user (the local stack, tests, edge sites): logins + the rendered config. */
export function generateBusLogins(names: Partial<BusNames> = {}): { logins: Record<BusUser, { user: string; password: string }>; conf: string } {
  const perms = servicePermissions(names);
  const logins = Object.fromEntries(BUS_USERS.map((u) => [u, { user: u, password: randomBytes(18).toString('base64url') }])) as Record<BusUser, { user: string; password: string }>;
  const conf = renderNatsAuthorization(
    BUS_USERS.map((u) => ({ ...logins[u], permissions: perms[u] })),
    '# Generated at start by @tessera/runtime generateBusLogins: one user per service, own subjects only.\n',
  );
  return { logins, conf };
}
