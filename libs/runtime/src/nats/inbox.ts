import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';

/**
 * One wildcard subscription per client for all replies and stream chunks (`<prefix>.<n>`),
 * instead of a SUB/UNSUB round per call.
 */
export class Inbox {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly routes = new Map<string, (m: Msg) => void>();
  private n = 0;

  constructor(nc: NatsConnection, inboxPrefix?: string) {
    this.prefix = createInbox(inboxPrefix);
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

  close(): void {
    this.sub.unsubscribe();
    this.routes.clear();
  }
}
