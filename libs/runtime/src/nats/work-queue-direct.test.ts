/**
 * `workQueue.direct`: a queued streaming call is first offered as core request/reply on its own
 * namespace and queued only when nobody takes it — no responders, or every slot taken (`busy`) —
 * so nothing is lost; an offer that is never accepted fails (it may be running), it is not queued.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { startNatsServer, type NatsServerHandle } from '@tessera/testing';
import { bindNats, type NatsBinding } from './server.js';
import { natsClient } from './client.js';
import { EchoServiceService, echoService, type CountRequest } from '../test/proof/echo-service.js';

const definition = { countWork: EchoServiceService.countWork };
const queue = (stage: string) => ({ stage, methods: ['countWork'] as const, direct: { namespace: `tessera.fast.${stage}` } });
const count = (o: Partial<CountRequest> = {}): CountRequest => ({ count: 3, delayMs: 0, failAfter: 0, ...o });

let server: NatsServerHandle;
let nc: NatsConnection;
const transports: string[] = [];
const bindings: NatsBinding[] = [];

const bind = async (stage: string) => {
  const b = await bindNats(nc, definition, { countWork: echoService({ onStart: (_m, ctx) => transports.push(ctx.transport) }).countWork }, { serviceName: stage, workQueue: { ...queue(stage), concurrency: 1 } });
  bindings.push(b);
  return b;
};
const collect = async (it: AsyncIterable<{ n: number }>) => {
  const out: number[] = [];
  for await (const c of it) out.push(c.n);
  return out;
};
/** Jobs ever stored in the stage's stream (a direct call stores none). */
const jobsStored = async (stage: string) => (await (await nc.jetstreamManager()).streams.info(`TESSERA_${stage.toUpperCase()}`)).state.last_seq;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});
afterAll(async () => {
  for (const b of bindings) await b.stop(1_000);
  await nc.close();
  await server.stop();
});

describe('work queue with direct offers', () => {
  it('an idle server takes the call directly: no job is stored', async () => {
    await bind('direct');
    const client = natsClient(nc, definition, { workQueue: queue('direct') });
    transports.length = 0;
    expect(await collect(client.countWork(count(), { tenant: 'acme', timeoutMs: 10_000 }))).toEqual([0, 1, 2]);
    expect(transports).toEqual(['nats']);
    expect(await jobsStored('direct')).toBe(0);
    client.close();
  });

  it('a server with every slot taken refuses as busy: the call waits in the queue and runs when the slot frees', async () => {
    const client = natsClient(nc, definition, { workQueue: queue('direct') });
    transports.length = 0;
    const long = collect(client.countWork(count({ count: 2, delayMs: 400 }), { tenant: 'acme', timeoutMs: 10_000 }));
    while (transports.length === 0) await new Promise((r) => setTimeout(r, 10));
    const queued = await collect(client.countWork(count(), { tenant: 'acme', timeoutMs: 10_000 }));
    expect(await long).toEqual([0, 1]);
    expect(queued).toEqual([0, 1, 2]);
    expect(transports).toEqual(['nats', 'jetstream']);
    expect(await jobsStored('direct')).toBe(1);
    client.close();
  });

  it('with no server subscribed the call is queued and served once one starts', async () => {
    const client = natsClient(nc, definition, { workQueue: queue('later') });
    transports.length = 0;
    const answer = collect(client.countWork(count(), { tenant: 'acme', timeoutMs: 10_000 }));
    const jsm = await nc.jetstreamManager();
    for (;;) {
      const stored = await jsm.streams.info('TESSERA_LATER').then((s) => s.state.messages, () => 0);
      if (stored === 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await bind('later');
    expect(await answer).toEqual([0, 1, 2]);
    expect(transports).toEqual(['jetstream']);
  });

  it('an offer nobody accepts fails UNAVAILABLE after acceptTimeoutMs, well before the deadline, and is not queued', async () => {
    // Interest without an answer: a server hung, or a link that dropped without either side noticing.
    let offered = 0;
    const hung = nc.subscribe('tessera.fast.hung.>', { callback: () => offered++ });
    const client = natsClient(nc, definition, { workQueue: queue('hung'), acceptTimeoutMs: 300 });
    await expect(collect(client.countWork(count(), { tenant: 'acme', timeoutMs: 60_000 }))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/did not accept the stream in time/) });
    expect(offered).toBe(1);
    await expect((await nc.jetstreamManager()).streams.info('TESSERA_HUNG')).rejects.toThrow(/not found/);
    hung.unsubscribe();
    client.close();
  });

  it('a unary method of a binding with direct offers is never offered directly: it goes through the queue (only an accept tells taken from not taken)', async () => {
    const both = { countWork: EchoServiceService.countWork, work: EchoServiceService.work };
    const o = { stage: 'mixed', methods: ['countWork', 'work'] as const, direct: { namespace: 'tessera.fast.mixed' } };
    const impl = echoService({ onStart: (_m, ctx) => transports.push(ctx.transport) });
    bindings.push(await bindNats(nc, both, { countWork: impl.countWork, work: impl.work }, { serviceName: 'mixed', workQueue: { ...o, concurrency: 1 } }));
    const client = natsClient(nc, both, { workQueue: o });
    transports.length = 0;
    expect((await client.work({ text: 'hi', delayMs: 0, blob: Buffer.alloc(0), failCode: '' }, { tenant: 'acme', timeoutMs: 10_000 })).text).toBe('hi');
    expect(transports).toEqual(['jetstream']);
    expect(await jobsStored('mixed')).toBe(1);
    // The streaming method of the same binding is still offered directly.
    expect(await collect(client.countWork(count(), { tenant: 'acme', timeoutMs: 10_000 }))).toEqual([0, 1, 2]);
    expect(transports).toEqual(['jetstream', 'nats']);
    expect(await jobsStored('mixed')).toBe(1);
    client.close();
  });
});
