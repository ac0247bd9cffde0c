export { startNatsServer, startNatsCluster, freePort, natsServerBinary, type NatsServerHandle, type NatsClusterHandle } from './nats-server.js';
export { spawnTs, spawnCommand, waitFor, type SpawnedProcess, type SpawnOptions } from './spawn.js';
export { collectSpans, toSpanRecord, type SpanCollector, type SpanRecord } from './spans.js';
export { meterBus, type BusMeter, type BucketTraffic } from './bus-meter.js';
// withNats / withPostgres (vitest hooks) are `@tessera/testing/vitest`: this barrel is also imported by the
// local stack, the demo and benches, which run without vitest.
export { readSse } from './sse.js';
export { startPostgres, postgresBinDir, type PostgresHandle } from './postgres.js';
