/**
 * Per-service inboxes against a real nats-server running the shipped permissions (permissions.ts,
 * inbox.ts): every process connects with `_INBOX.<user>`; a service credential can subscribe neither
 * `_INBOX.>` nor another service's inboxes, and can publish into a caller's inboxes only where that
 * caller receives its answers (`_INBOX.<caller>.<service>.r`). The whole call protocol still runs
 * under those grants: unary and streamed calls over request/reply and the work queue, stream credit,
 * heartbeats, cancel, the liveness probe of a dead server, large answers through the claim check.
 * The proof service is bound under the decoder's subjects and stage, so the decoder's user serves it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindNats } from './server.js';
import { natsClient } from './client.js';
import { EchoServiceService, echoService } from '../test/proof/echo-service.js';
import type { ServiceDefinition } from '../definition.js';
import { startAuthBus, tryPublish, trySubscribe, type AuthBus } from '../test/auth-bus.js';

/** The proof service's methods under `tessera.decoding.v1.DecoderService` (what the decoder user may serve). */
const AsDecoder = Object.fromEntries(
  Object.entries(EchoServiceService).map(([k, m]) => [k, { ...m, path: m.path.replace('/tessera.echo.v1.EchoService/', '/tessera.decoding.v1.DecoderService/') }]),
) as unknown as typeof EchoServiceService & ServiceDefinition;
const DECODER_QUEUE = { stage: 'decoder', methods: ['work', 'countWork'] } as const;

describe('per-service NATS inboxes', () => {
  let bus: AuthBus;
  beforeAll(async () => {
    bus = await startAuthBus();
  });
  afterAll(() => bus.stop());
  const as = (user: Parameters<AuthBus['as']>[0]) => bus.as(user);

  it('each service connects with its own inbox prefix, named after its NATS user', async () => {
    const gateway = await as('gateway');
    expect((gateway.nc as unknown as { options: { inboxPrefix: string } }).options.inboxPrefix).toBe('_INBOX.gateway');
  });

  it("a service credential cannot subscribe to _INBOX.> or to another service's inboxes, only its own", async () => {
    const decoder = await as('decoder');
    for (const subject of ['_INBOX.>', '_INBOX.*', '_INBOX.gateway.>', '_INBOX.slicer.>', '_INBOX.gateway.slicer.r.>', '_INBOX.gateway.decoder.r.>', '_INBOX.operator.>', '_INBOX_shop-1.>']) {
      expect(await trySubscribe(decoder, subject), subject).toBe(false);
    }
    expect(decoder.violations).toContain('PERMISSIONS_VIOLATION');
    expect(await trySubscribe(decoder, '_INBOX.decoder.>')).toBe(true);
    // Stream control subjects its callers name for it: the only part of their inboxes it may read.
    expect(await trySubscribe(decoder, '_INBOX.gateway.decoder.c.x')).toBe(true);
  });

  it('a service bound under subjects its credential may not serve logs the refusal, not a TypeError', async () => {
    const logged: string[] = [];
    const log = (msg: string, f?: Record<string, unknown>) => logged.push(`${msg} ${JSON.stringify(f ?? {})}`);
    const binding = await bindNats((await as('slicer')).nc, AsDecoder, echoService(), { serviceName: 'slicer', logger: { info: () => {}, warn: log, error: log } });
    try {
      for (let i = 0; i < 100 && logged.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(logged.join('\n')).toMatch(/nats subscription refused .*DecoderService.*Permissions Violation/i);
      expect(logged.join('\n')).not.toMatch(/outside the handler/);
    } finally {
      await binding.stop(100);
    }
  });

  it("a service credential cannot publish into another service's inboxes except where its callers take its answers", async () => {
    const decoder = await as('decoder');
    // The gateway's request and JetStream API inboxes, its slicer answers, the slicer's own inboxes, the gateway's control subjects for the decoder:
    for (const subject of ['_INBOX.gateway.Abc123.1', '_INBOX.gateway.slicer.r.Abc123.1', '_INBOX.slicer.Abc123.1', '_INBOX.gateway.decoder.c.Abc123', '_INBOX.Abc123.1']) {
      expect(await tryPublish(decoder, subject), subject).toBe(false);
    }
    expect(decoder.violations).toContain('PERMISSIONS_VIOLATION');
    expect(await tryPublish(decoder, '_INBOX.gateway.decoder.r.Abc123.1')).toBe(true);
    // The slicer is not the gateway's decoder: it cannot answer there.
    expect(await tryPublish(await as('slicer'), '_INBOX.gateway.decoder.r.Abc123.1')).toBe(false);
  });

  it('the call protocol works under those grants: unary, streams with credit and heartbeats, cancel, work queue, claim check, for the gateway and the operator', async () => {
    const decoder = await as('decoder');
    let ended: number[] = [];
    const binding = await bindNats(decoder.nc, AsDecoder, echoService({ onStreamEnd: (sent) => ended.push(sent) }), {
      serviceName: 'decoder',
      workQueue: { ...DECODER_QUEUE, concurrency: 4 },
      payload: { claimThresholdBytes: 64 * 1024 },
    });
    try {
      for (const user of ['gateway', 'operator'] as const) {
        const caller = await as(user);
        const client = natsClient(caller.nc, AsDecoder, { workQueue: DECODER_QUEUE, heartbeatMs: 100, streamWindow: 4, payload: { claimThresholdBytes: 64 * 1024 } });
        const o = { tenant: 'acme', timeoutMs: 20_000 };
        expect((await client.echo({ text: 'hi', delayMs: 0, blob: Buffer.alloc(0), failCode: '' }, o)).text).toBe('hi');
        // An answer above the claim-check threshold travels through the payload bucket.
        const blob = Buffer.from(new Uint8Array(200 * 1024).map((_, i) => i % 251));
        expect(Buffer.from((await client.work({ text: 'big', delayMs: 0, blob, failCode: '' }, o)).blob).equals(Buffer.from(blob))).toBe(true);
        // Streams: 20 chunks through a window of 4 (credit on the control subject), 300 ms of prefill-like silence covered by heartbeats.
        for (const stream of [client.count, client.countWork]) {
          const got: number[] = [];
          for await (const c of stream({ count: 20, delayMs: 0, failAfter: 0 }, o)) got.push(c.n);
          expect(got).toEqual([...Array(20).keys()]);
          const slow: number[] = [];
          for await (const c of stream({ count: 2, delayMs: 300, failAfter: 0 }, o)) slow.push(c.n);
          expect(slow).toEqual([0, 1]);
        }
        // Cancel: the consumer stops after 3 of 1000 chunks; the server hears it on the control subject.
        ended = [];
        for await (const c of client.count({ count: 1000, delayMs: 20, failAfter: 0 }, o)) if (c.n === 2) break;
        await expect.poll(() => ended.length, { timeout: 5_000 }).toBe(1);
        expect(ended[0]!).toBeLessThan(1000);
        // Bad input still answers (an error reply into the caller's inbox), no violation.
        await expect(client.echo({ text: '', delayMs: 0, blob: Buffer.alloc(0), failCode: 'INVALID_ARGUMENT' }, o)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        client.close();
        expect(caller.violations, user).toEqual([]);
      }
      expect(decoder.violations).toEqual([]);
    } finally {
      await binding.stop(1_000);
    }
  });

  it('a dead server is found by the liveness probe (no responders on its control subject) and nobody answering a call is UNAVAILABLE at once', async () => {
    const gateway = await as('gateway');
    const decoder = await as('decoder');
    await bindNats(decoder.nc, AsDecoder, echoService(), { serviceName: 'decoder' });
    const client = natsClient(gateway.nc, AsDecoder, { heartbeatMs: 100 });
    const o = { tenant: 'acme', timeoutMs: 20_000 };
    let killedAt = 0;
    const run = (async () => {
      for await (const c of client.count({ count: 1000, delayMs: 50, failAfter: 0 }, o)) {
        if (c.n === 2) {
          killedAt = Date.now();
          await decoder.nc.close();
        }
      }
    })();
    await expect(run).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    // Two heartbeats (200 ms) plus the probe's no-responders answer; well under the 5 s bound.
    expect(Date.now() - killedAt).toBeLessThan(2_000);
    const t0 = Date.now();
    await expect(client.echo({ text: 'x', delayMs: 0, blob: Buffer.alloc(0), failCode: '' }, o)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/no responders/) });
    expect(Date.now() - t0).toBeLessThan(1_000);
    client.close();
    expect(gateway.violations).toEqual([]);
  });
});
