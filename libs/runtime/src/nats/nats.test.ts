import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers as natsHeaders } from 'nats';
import { waitFor } from '@tessera/testing';
import { withNats } from '@tessera/testing/vitest';
import { bindNats, type NatsBinding } from './server.js';
import { natsClient } from './client.js';
import { errorFromHeaders } from './status.js';
import { Header } from '../wire-headers.js';
import { TesseraError } from '@tessera/errors';
import { EchoServiceService, echoService, type EchoRequest } from '../test/proof/echo-service.js';
import type { ServiceClient } from '../client-types.js';
import type { CallContext } from '../context.js';

const req = (o: Partial<EchoRequest> = {}): EchoRequest => ({ text: 'hi', delayMs: 0, blob: Buffer.alloc(0), failCode: '', ...o });

describe('NATS request/reply adapter', () => {
  const bus = withNats();
  let binding: NatsBinding;
  let client: ServiceClient<typeof EchoServiceService>;
  const streamEnds: number[] = [];
  let produced = 0;
  let started = 0;
  let lastCtx: CallContext | undefined;

  beforeAll(async () => {
    const impl = echoService({ onStreamEnd: (n) => streamEnds.push(n), onStart: (_m, ctx) => {
      started++;
      lastCtx = ctx;
    } });
    const counting = {
      ...impl,
      async *count(r: Parameters<typeof impl.count>[0], ctx: Parameters<typeof impl.count>[1]) {
        for await (const m of impl.count(r, ctx)) {
          produced++;
          yield m;
        }
      },
    };
    binding = await bindNats(bus.nc, EchoServiceService, counting, { serviceName: 'echo', payload: { claimThresholdBytes: 4096 } });
    client = natsClient(bus.nc, EchoServiceService, { payload: { claimThresholdBytes: 4096 }, streamWindow: 4 });
  });
  afterAll(async () => {
    client.close();
    await binding.stop(1000);
  });

  it('serves unary calls with tenant, request id and deadline from headers', async () => {
    const res = await client.echo(req(), { tenant: 'acme', requestId: 'r-42' });
    expect(res).toMatchObject({ text: 'hi', tenant: 'acme', requestId: 'r-42' });
  });

  it('streams in order with an end marker', async () => {
    const got: number[] = [];
    for await (const m of client.count({ count: 50, delayMs: 0, failAfter: 0 }, { tenant: 'acme' })) got.push(m.n);
    expect(got).toEqual([...Array(50).keys()]);
  });

  it('keeps the server at most one window ahead of a slow consumer', async () => {
    produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    for await (const _ of client.count({ count: 40, delayMs: 0, failAfter: 0 }, { tenant: 'acme' })) {
      consumed++;
      await new Promise((r) => setTimeout(r, 5));
      maxAhead = Math.max(maxAhead, produced - consumed);
    }
    expect(consumed).toBe(40);
    // window 4: the server holds at most window chunks beyond the last credit (+1 being produced).
    expect(maxAhead).toBeLessThanOrEqual(4 + 2);
    expect(maxAhead).toBeGreaterThan(0);
  });

  it('delivers a stream error in the end marker after the chunks before it', async () => {
    const got: number[] = [];
    const err = await (async () => {
      for await (const m of client.count({ count: 10, delayMs: 0, failAfter: 3 }, { tenant: 'acme' })) got.push(m.n);
    })().catch((e: unknown) => e);
    expect(got).toEqual([0, 1, 2]);
    expect(err).toMatchObject({ code: 'FAILED_PRECONDITION', details: { field: 'fail_after' } });
  });

  it('maps errors to headers and back (code, message, details)', async () => {
    const err = await client.echo(req({ failCode: 'RESOURCE_EXHAUSTED' }), { tenant: 'acme' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect(err).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: 'asked to fail with RESOURCE_EXHAUSTED', details: { field: 'fail_code', limit: 'none' } });
  });

  it('cancels the server-side stream when the client aborts', async () => {
    const ac = new AbortController();
    const before = streamEnds.length;
    const err = await (async () => {
      for await (const m of client.count({ count: 10_000, delayMs: 5, failAfter: 0 }, { tenant: 'acme', signal: ac.signal })) if (m.n === 3) ac.abort();
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CANCELLED' });
    for (let i = 0; i < 100 && streamEnds.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(streamEnds.length).toBe(before + 1);
    expect(streamEnds.at(-1)!).toBeLessThan(5_000); // of 10 000: stopped early (slack for a loaded CI box)
  });

  it('cancels the server-side stream when the consumer breaks out', async () => {
    const before = streamEnds.length;
    for await (const m of client.count({ count: 10_000, delayMs: 5, failAfter: 0 }, { tenant: 'acme' })) if (m.n === 2) break;
    for (let i = 0; i < 100 && streamEnds.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(streamEnds.at(-1)!).toBeLessThan(5_000); // of 10 000: stopped early (slack for a loaded CI box)
  });

  it('cancels a unary call on the server when the caller aborts', async () => {
    const ac = new AbortController();
    const call = client.echo(req({ delayMs: 5_000 }), { tenant: 'acme', requestId: 'cancel-unary', signal: ac.signal });
    await waitFor(() => lastCtx?.requestId === 'cancel-unary');
    ac.abort();
    await expect(call).rejects.toMatchObject({ code: 'CANCELLED' });
    await waitFor(() => lastCtx!.signal.aborted);
    expect(lastCtx!.signal.reason).toMatchObject({ code: 'CANCELLED' });
  });

  it('aborts ctx.signal at the deadline and replies DEADLINE_EXCEEDED', async () => {
    await expect(client.echo(req({ delayMs: 5_000 }), { tenant: 'acme', timeoutMs: 150 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
  });

  it('round-trips a payload above the claim-check threshold through the object store', async () => {
    const blob = Buffer.alloc(20_000, 7);
    const res = await client.echo(req({ blob }), { tenant: 'acme' });
    expect(Buffer.from(res.blob).equals(blob)).toBe(true);
  });

  describe('bad input: an error reply, and the service keeps serving', () => {
    const raw = async (subject: string, data: Uint8Array, h: Record<string, string>) => {
      const hdr = natsHeaders();
      for (const [k, v] of Object.entries(h)) hdr.set(k, v);
      const m = await bus.nc.request(subject, data, { headers: hdr, timeout: 2000 });
      return errorFromHeaders(m.headers);
    };
    const ok = { [Header.TENANT]: 'acme' };
    const good = EchoServiceService.echo.requestSerialize(req());

    it('malformed protobuf', async () => {
      const e = await raw('tessera.echo.v1.EchoService.Echo', Uint8Array.from([0x0a, 0xff, 0x01]), ok);
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'payload' } });
      expect(e!.message).toContain('not a valid protobuf');
    });
    it('unknown method', async () => {
      const e = await raw('tessera.echo.v1.EchoService.Nope', good, ok);
      expect(e).toMatchObject({ code: 'UNIMPLEMENTED' });
      expect(e!.message).toContain('tessera.echo.v1.EchoService.Echo');
    });
    it('unknown version', async () => {
      const e = await raw('tessera.echo.v9.EchoService.Echo', good, ok);
      expect(e).toMatchObject({ code: 'UNIMPLEMENTED' });
    });
    it('missing tenant header', async () => {
      const e = await raw('tessera.echo.v1.EchoService.Echo', good, {});
      expect(e).toMatchObject({ code: 'UNAUTHENTICATED', details: { field: 'tessera-tenant' } });
    });
    it('oversized inline payload', async () => {
      const big = EchoServiceService.echo.requestSerialize(req({ blob: Buffer.alloc(10_000) }));
      const e = await raw('tessera.echo.v1.EchoService.Echo', big, ok);
      expect(e).toMatchObject({ code: 'RESOURCE_EXHAUSTED', details: { field: 'payload', limit: 'inline payload <= 4096 bytes' } });
    });
    it('expired deadline is dropped before compute', async () => {
      const before = started;
      const e = await raw('tessera.echo.v1.EchoService.Echo', good, { ...ok, [Header.DEADLINE]: String(Date.now() - 1) });
      expect(e).toMatchObject({ code: 'DEADLINE_EXCEEDED', details: { field: 'tessera-deadline' } });
      expect(started).toBe(before);
    });
    it('a claim header that is not an ObjectRef', async () => {
      const e = await raw('tessera.echo.v1.EchoService.Echo', new Uint8Array(0), { ...ok, [Header.CLAIM]: '{"bucket":1}' });
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'tessera-claim' } });
    });
    it('still serves after all of the above', async () => {
      await expect(client.echo(req({ text: 'alive' }), { tenant: 'acme' })).resolves.toMatchObject({ text: 'alive' });
    });
  });

  it('reports UNAVAILABLE when nobody serves the subject', async () => {
    await binding.stopTaking();
    await expect(client.echo(req(), { tenant: 'acme', timeoutMs: 2000 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await binding.start();
  });
});
