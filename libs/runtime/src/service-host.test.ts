import { describe, expect, it } from 'vitest';
import { commonServiceConfig, loadConfig } from '@tessera/config';
import { withNats } from '@tessera/testing/vitest';
import { hosted, startService } from './service-host.js';
import { natsClient } from './nats/client.js';
import { grpcClient } from './grpc/client.js';
import { ECHO_WORK_QUEUE, EchoServiceService, echoService } from './test/proof/echo-service.js';

const req = { text: 'hello', delayMs: 0, blob: Buffer.alloc(0), failCode: '' };

describe('startService', () => {
  const bus = withNats();

  it('binds one implementation to gRPC, request/reply and the work queue, exports metrics, and shuts down', async () => {
    const config = loadConfig(commonServiceConfig({ serviceName: 'echo', grpcPort: 0, metricsPort: 0 }), { NATS_URL: bus.server.url, TESSERA_SHUTDOWN_GRACE: '1s' });
    const start = () =>
      startService({ config, services: [hosted({ definition: EchoServiceService, impl: echoService(), workQueue: ECHO_WORK_QUEUE })], handleSignals: false, telemetry: false });
    const host = await start();
    const second = await start(); // a second host in one process (tests do this) must not clash
    const viaNats = natsClient(bus.nc, EchoServiceService, { workQueue: ECHO_WORK_QUEUE });
    const viaGrpc = grpcClient(EchoServiceService, `127.0.0.1:${host.grpcPort}`);
    await expect(viaNats.echo(req, { tenant: 't' })).resolves.toMatchObject({ text: 'hello' });
    await expect(viaNats.work(req, { tenant: 't' })).resolves.toMatchObject({ text: 'hello' });
    await expect(viaGrpc.echo(req, { tenant: 't' })).resolves.toMatchObject({ text: 'hello' });
    const text = await (await fetch(`http://127.0.0.1:${host.metricsPort}/metrics`)).text();
    for (const transport of ['nats', 'jetstream', 'grpc']) expect(text).toMatch(new RegExp(`tessera_rpc_server_duration_seconds_count\\{[^}]*transport="${transport}"[^}]*\\} [1-9]`));
    await host.shutdown();
    await second.shutdown();
    await expect(viaNats.echo(req, { tenant: 't', timeoutMs: 1000 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(viaGrpc.echo(req, { tenant: 't', timeoutMs: 1000 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    viaGrpc.close();
    viaNats.close();
  });
});
