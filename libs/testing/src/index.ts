export { startNatsServer, startNatsCluster, freePort, natsServerBinary, type NatsServerHandle, type NatsClusterHandle } from './nats-server.js';
export { spawnTs, spawnCommand, waitFor, type SpawnedProcess, type SpawnOptions } from './spawn.js';
export { collectSpans, toSpanRecord, type SpanCollector, type SpanRecord } from './spans.js';
export { meterBus, type BusMeter, type BucketTraffic } from './bus-meter.js';
export { withObjectStore, type NatsFixture } from './with-nats.js';
export { startPostgres, postgresBinDir, type PostgresHandle } from './postgres.js';
