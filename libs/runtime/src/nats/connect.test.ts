/**
 * Authenticated bus against a real nats-server: a service without credentials (or with wrong ones)
 * is refused, the right user connects, and per-user subject permissions stop one service from
 * publishing on another's subjects (the NATS-native guard against impersonation).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer, type NatsServerHandle } from '@tessera/testing';
import { connectNats } from './connect.js';

describe('NATS credentials and permissions', () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-auth-'));
    const conf = join(dir, 'auth.conf');
    writeFileSync(
      conf,
      `authorization {
  users = [
    { user: gateway, password: "gw-secret", permissions: { publish: { allow: ["tessera.>", "_INBOX.>", "$JS.API.>"] }, subscribe: { allow: ["_INBOX.>"] } } }
    { user: slicer, password: "sl-secret", permissions: { publish: { allow: ["_INBOX.>", "$JS.API.>", "$JS.ACK.>", "$O.>"] }, subscribe: { allow: ["_INBOX.>", "tessera.vision.v1.>"] } } }
  ]
}
`,
    );
    server = await startNatsServer({ args: ['-c', conf] });
  });
  afterAll(async () => {
    await server.stop();
  });

  const cfg = (o: Record<string, string | undefined>) => ({ natsUrl: server.url, serviceName: 'test', ...o });

  it('refuses a service without credentials or with a wrong password, naming the cause', async () => {
    await expect(connectNats(cfg({}), { maxReconnectAttempts: 0 })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(connectNats(cfg({ natsUser: 'slicer', natsPassword: 'nope' }), { maxReconnectAttempts: 0 })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(connectNats(cfg({ natsUser: 'slicer' }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'NATS_PASSWORD' } });
  });

  it('lets a service publish only on its own subjects', async () => {
    const slicer = await connectNats(cfg({ natsUser: 'slicer', natsPassword: 'sl-secret' }));
    const gateway = await connectNats(cfg({ natsUser: 'gateway', natsPassword: 'gw-secret' }));
    const errors: string[] = [];
    void (async () => {
      for await (const s of slicer.status()) if (s.type === 'error') errors.push(`${String(s.data)} ${(s.data as { message?: string })?.message ?? ''}`);
    })();
    // The slicer impersonating the gateway toward feedback: the server drops it with a permissions violation.
    slicer.publish('tessera.feedback.v1.FeedbackService.ListFeedback', new Uint8Array(0));
    await slicer.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(errors.join(' ')).toMatch(/PERMISSIONS_VIOLATION|Permissions Violation/);
    // The gateway may call it: no violation on its connection.
    const gwErrors: unknown[] = [];
    void (async () => {
      for await (const s of gateway.status()) if (s.type === 'error') gwErrors.push(s.data);
    })();
    gateway.publish('tessera.feedback.v1.FeedbackService.ListFeedback', new Uint8Array(0));
    await gateway.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(gwErrors).toEqual([]);
    await slicer.close();
    await gateway.close();
  });
});
