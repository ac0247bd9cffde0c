// Fixtures that register vitest hooks: a separate entry (`@tessera/testing/vitest`) because the main
// barrel is also imported by the local stack, the demo and benches, which run without vitest.
export { withNats, type NatsFixture } from './with-nats.js';
export { withPostgres, type PostgresFixture } from './with-postgres.js';
export { maxAbsDiff } from './max-abs-diff.js';
