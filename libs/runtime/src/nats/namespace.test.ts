/**
 * A binding's `namespace`: the same service served on `<namespace>.<version>.<Service>.<Method>`
 * (an edge site reaching a hub decoder under its model's revision, libs/edge hubModelNamespace). Only
 * a client naming that namespace reaches it; a client of the ordinary subjects reaches the ordinary
 * binding, never the namespaced one, and nothing answers a namespace nobody serves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { startNatsServer, type NatsServerHandle } from '@tessera/testing';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { bindNats, type NatsBinding } from './server.js';
import { natsClient } from './client.js';
import { EchoServiceService, echoService, type CountRequest } from '../test/proof/echo-service.js';

const definition = { echo: EchoServiceService.echo, count: EchoServiceService.count };
const count = (o: Partial<CountRequest> = {}): CountRequest => ({ count: 3, delayMs: 0, failAfter: 0, ...o });

let server: NatsServerHandle;
let nc: NatsConnection;
const bindings: NatsBinding[] = [];
/** Which binding ran each call. */
const ranOn: string[] = [];

const bind = async (name: string, namespace?: string) => {
  const impl = echoService({ onStart: () => ranOn.push(name) });
  bindings.push(await bindNats(nc, definition, { echo: impl.echo, count: impl.count }, { serviceName: 'echo', ...(namespace && { namespace }) }));
};

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  await bind('ordinary');
  await bind('rev-a', 'tessera.hubmodel.aaaa');
});
afterAll(async () => {
  for (const b of bindings) await b.stop(1_000);
  await nc.close();
  await server.stop();
});

describe('a binding under a namespace', () => {
  it('serves unary and streaming calls only to clients naming its namespace', async () => {
    const ns = natsClient(nc, definition, { namespace: 'tessera.hubmodel.aaaa' });
    const plain = natsClient(nc, definition);
    ranOn.length = 0;
    const streamed: number[] = [];
    for await (const c of ns.count(count(), { tenant: 'acme', timeoutMs: 10_000 })) streamed.push(c.n);
    expect(streamed).toEqual([0, 1, 2]);
    await ns.echo({ text: 'hi', delayMs: 0, blob: Buffer.alloc(0), failCode: '' }, { tenant: 'acme', timeoutMs: 10_000 });
    expect(ranOn).toEqual(['rev-a', 'rev-a']);
    ranOn.length = 0;
    for await (const _ of plain.count(count({ count: 1 }), { tenant: 'acme', timeoutMs: 10_000 }));
    expect(ranOn).toEqual(['ordinary']);
    ns.close();
    plain.close();
  });

  it('a namespace nobody serves (another revision) fails at once with UNAVAILABLE, it does not reach another binding', async () => {
    const other = natsClient(nc, definition, { namespace: 'tessera.hubmodel.bbbb' });
    ranOn.length = 0;
    const started = Date.now();
    const err = await (async () => {
      for await (const _ of other.count(count(), { tenant: 'acme', timeoutMs: 10_000 }));
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe(ErrorCode.UNAVAILABLE);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(ranOn).toEqual([]);
    other.close();
  });
});
