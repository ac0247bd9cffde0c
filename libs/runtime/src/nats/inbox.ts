import { createInbox, type ConnectionOptions, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import type { MethodInfo } from '../definition.js';

/**
 * Inbox subjects, per service (see permissions.ts for the grants that rely on these names):
 * - each process connects with the inbox prefix `_INBOX.<bus user>` (`serviceInboxPrefix`), so
 *   nats.js puts its own request, JetStream API and consumer inboxes there, and its NATS user may
 *   subscribe only `_INBOX.<bus user>.>`, never `_INBOX.>` (nobody reads another service's replies);
 * - a client of service X opens its reply routes under `<prefix>.<x>.r` and its stream control
 *   subjects under `<prefix>.<x>.c` (`calleeInboxes`): X's user may publish only to the `r` part
 *   of its callers' X-inboxes and subscribe only to their `c` part. NATS's `allow_responses` cannot
 *   cover those replies: stream chunks and work-queue answers go to an inbox named in a header
 *   (`tessera-reply-to`), and a work-queue job's own reply subject is JetStream's ack subject.
 * An edge site's gateway uses `_INBOX_<site>` instead (libs/edge): the only inboxes its leaf
 * credential receives on at the hub.
 */
export const INBOX_ROOT = '_INBOX';

/** `_INBOX.<user>`: a subject token made of the user (or service) name; anything else becomes `_`. */
export function serviceInboxPrefix(user: string): string {
  return `${INBOX_ROOT}.${inboxToken(user)}`;
}

export const inboxToken = (name: string): string => name.replace(/[^A-Za-z0-9_-]/g, '_');

/** The bus user that serves a definition: `DecoderService` → `decoder` (permissions.ts SERVICE_SUBJECTS keys). */
export const calleeToken = (info: Pick<MethodInfo, 'service'>): string => inboxToken(info.service.replace(/Service$/, '').toLowerCase());

/** The prefix the connection was opened with (nats.js uses it for every inbox it creates); `_INBOX` when none. */
export function connectionInboxPrefix(nc: NatsConnection): string {
  return (nc as NatsConnection & { options?: ConnectionOptions }).options?.inboxPrefix || INBOX_ROOT;
}

/** Where a client of `callee` receives replies (`<prefix>.<callee>.r`) and names stream control subjects (`<prefix>.<callee>.c`). */
export function calleeInboxes(prefix: string, callee: string): { replies: string; control: string } {
  return { replies: `${prefix}.${callee}.r`, control: `${prefix}.${callee}.c` };
}

/**
 * One wildcard subscription per client for all replies and stream chunks (`<replies>.<nuid>.<n>`),
 * instead of a SUB/UNSUB round per call.
 */
export class Inbox {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly routes = new Map<string, (m: Msg) => void>();
  private n = 0;

  constructor(
    private readonly nc: NatsConnection,
    repliesPrefix?: string,
  ) {
    this.prefix = createInbox(repliesPrefix);
    this.sub = nc.subscribe(`${this.prefix}.*`, {
      callback: (_err, m) => {
        this.routes.get(m.subject)?.(m);
      },
    });
  }

  open(onMessage: (m: Msg) => void): { subject: string; close(): void } {
    const subject = `${this.prefix}.${++this.n}`;
    this.routes.set(subject, onMessage);
    return { subject, close: () => this.routes.delete(subject) };
  }

  /**
   * Core request/reply with the answer on one of this inbox's routes (not the connection's shared
   * request inbox, which the callee may not publish to). Rejects like nats.js's `request`: code
   * `503` when nobody listens (the server's no-responders status), `TIMEOUT` after `timeoutMs`.
   */
  request(subject: string, body: Uint8Array, o: { headers?: MsgHdrs; timeoutMs: number }): Promise<Msg> {
    return new Promise<Msg>((resolve, reject) => {
      const route = this.open((m) => {
        finish();
        if (m.data.length === 0 && m.headers?.code === 503) reject(Object.assign(new Error(`no responders: ${subject}`), { code: '503' }));
        else resolve(m);
      });
      const timer = setTimeout(() => {
        finish();
        reject(Object.assign(new Error(`timeout: ${subject}`), { code: 'TIMEOUT' }));
      }, o.timeoutMs);
      function finish() {
        clearTimeout(timer);
        route.close();
      }
      try {
        this.nc.publish(subject, body, { reply: route.subject, ...(o.headers && { headers: o.headers }) });
      } catch (err) {
        finish();
        reject(err);
      }
    });
  }

  close(): void {
    this.sub.unsubscribe();
    this.routes.clear();
  }
}
