/**
 * Authenticated bus against a real nats-server running the shipped per-service permissions
 * (permissions.ts, as the local stack and deploy/nats/auth.conf use them): a service without
 * credentials (or with wrong ones) is refused, and a service credential can neither publish another
 * service's subjects nor subscribe as another service — while its own work (serving, pulling its
 * work queue, the claim-check bucket) goes through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from './connect.js';
import { ensureWorkStream } from './streams.js';
import { getPayload, putPayload } from '../claim-check.js';
import { startAuthBus, tryPublish, trySubscribe, type AuthBus } from '../test/auth-bus.js';

describe('NATS credentials and per-service permissions', () => {
  let bus: AuthBus;
  beforeAll(async () => {
    bus = await startAuthBus();
  });
  afterAll(() => bus.stop());
  const cfg = (o: Record<string, string | undefined>) => ({ natsUrl: bus.server.url, serviceName: 'test', ...o });
  const as = (user: Parameters<AuthBus['as']>[0]) => bus.as(user);

  it('refuses a service without credentials or with a wrong password, naming the cause', async () => {
    await expect(connectNats(cfg({}), { maxReconnectAttempts: 0 })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(connectNats(cfg({ natsUser: 'slicer', natsPassword: 'nope' }), { maxReconnectAttempts: 0 })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(connectNats(cfg({ natsUser: 'slicer' }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'NATS_PASSWORD' } });
  });

  it("a service credential cannot publish another service's subjects", async () => {
    const slicer = await as('slicer');
    // Calling feedback as if it were the gateway, posting decoder jobs, appending feedback events, answering as the resampler's work queue:
    for (const subject of ['tessera.feedback.v1.FeedbackService.ListFeedback', 'tessera.work.decoder.v1.DecoderService.Generate', 'tessera.feedback.events.acme.x', '$JS.API.CONSUMER.MSG.NEXT.TESSERA_DECODER.decoder-workers', '$JS.API.STREAM.PURGE.TESSERA_FEEDBACK']) {
      expect(await tryPublish(slicer, subject), subject).toBe(false);
    }
    expect(slicer.violations.join(' ')).toMatch(/PERMISSIONS_VIOLATION|Permissions Violation/i);
    // Its own subjects pass: poison advisories of its stage, the replies inbox.
    expect(await tryPublish(slicer, 'tessera.advisory.poison.slicer')).toBe(true);
    // The gateway may call feedback and post decoder jobs.
    const gateway = await as('gateway');
    expect(await tryPublish(gateway, 'tessera.feedback.v1.FeedbackService.ListFeedback')).toBe(true);
    expect(await tryPublish(gateway, 'tessera.work.decoder.v1.DecoderService.Generate')).toBe(true);
    expect(await tryPublish(gateway, 'tessera.feedback.events.acme.x')).toBe(false);
  });

  it('a service credential cannot subscribe as another service', async () => {
    const decoder = await as('decoder');
    expect(await trySubscribe(decoder, 'tessera.feedback.*.FeedbackService.*', 'feedback')).toBe(false);
    expect(decoder.violations.join(' ')).toMatch(/PERMISSIONS_VIOLATION|Permissions Violation/i);
  });

  it('own JetStream work passes: the gateway ensures a work stream and writes a claim check the decoder can read from the encoder cache bucket', async () => {
    const gateway = await as('gateway');
    await ensureWorkStream(await gateway.nc.jetstreamManager(), 'decoder');
    const bytes = new Uint8Array(700 * 1024).map((_, i) => i % 251);
    const ref = await putPayload(gateway.nc, bytes, { bucket: 'tessera-encoder-cache', tenant: 'acme' });
    const decoder = await as('decoder');
    expect(Buffer.from(await getPayload(decoder.nc, ref, { tenant: 'acme' })).equals(Buffer.from(bytes))).toBe(true);
    // …but the decoder (read-only there) cannot write into that bucket.
    await expect(putPayload(decoder.nc, bytes.map((b) => b ^ 1), { bucket: 'tessera-encoder-cache', tenant: 'acme' })).rejects.toThrow();
    expect(gateway.violations).toEqual([]);
  });
});
