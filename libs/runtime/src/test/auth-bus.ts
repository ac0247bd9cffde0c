/**
 * A real nats-server running the generated per-service users (permissions.ts `generateBusLogins`),
 * for the permission tests: log in as a bus user, and try a publish or a subscription, which nats-server
 * either lets through or answers with an asynchronous PERMISSIONS_VIOLATION (seen before the flush's PONG).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { startNatsServer, type NatsServerHandle } from '@tessera/testing';
import { connectNats } from '../nats/connect.js';
import { generateBusLogins, type BusUser } from '../nats/permissions.js';

export interface BusLogin {
  nc: NatsConnection;
  /** One entry (the server's error) per refused publish or subscription. */
  violations: string[];
}

export interface AuthBus {
  server: NatsServerHandle;
  logins: ReturnType<typeof generateBusLogins>['logins'];
  /** Connects as `user` through connectNats (so with its inbox prefix `_INBOX.<user>`). */
  as(user: BusUser): Promise<BusLogin>;
  stop(): Promise<void>;
}

export async function startAuthBus(): Promise<AuthBus> {
  const { logins, conf } = generateBusLogins();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-auth-'));
  writeFileSync(join(dir, 'auth.conf'), conf);
  const server = await startNatsServer({ args: ['-c', join(dir, 'auth.conf')] });
  const open: NatsConnection[] = [];
  return {
    server,
    logins,
    async as(user) {
      const nc = await connectNats({ natsUrl: server.url, serviceName: `test-${user}`, natsUser: logins[user].user, natsPassword: logins[user].password });
      open.push(nc);
      const violations: string[] = [];
      void (async () => {
        for await (const s of nc.status()) if (s.type === 'error') violations.push(String((s.data as { message?: string })?.message ?? s.data));
      })();
      return { nc, violations };
    },
    async stop() {
      await Promise.all(open.map((nc) => nc.close().catch(() => {})));
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const settle = async (nc: NatsConnection) => {
  await nc.flush();
  await new Promise((r) => setTimeout(r, 100));
};

/** Publishes and waits a round trip: true when nats-server let it through. */
export async function tryPublish(c: BusLogin, subject: string): Promise<boolean> {
  const before = c.violations.length;
  c.nc.publish(subject, new Uint8Array(0));
  await settle(c.nc);
  return c.violations.length === before;
}

/** Subscribes (optionally in a queue group) and waits a round trip: true when nats-server accepted it. */
export async function trySubscribe(c: BusLogin, subject: string, queue?: string): Promise<boolean> {
  const before = c.violations.length;
  const sub = c.nc.subscribe(subject, queue ? { queue } : {});
  await settle(c.nc);
  sub.unsubscribe();
  return c.violations.length === before;
}
