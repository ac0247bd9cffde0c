import { afterAll, describe, expect, it } from 'vitest';
import { withNats } from './with-nats.js';
import { withPostgres } from './with-postgres.js';

describe('withNats', () => {
  const bus = withNats();
  let early: unknown;
  try {
    void bus.nc; // at collection time, before the fixture's beforeAll
  } catch (e) {
    early = e;
  }
  // Registered after the fixture, so it runs before the fixture's teardown (vitest sequence.hooks 'stack'):
  // the files that call withNats() first stop their bindings on a connection that is still open.
  afterAll(async () => {
    expect(bus.nc.isClosed()).toBe(false);
    await bus.nc.flush();
  });

  it('gives a JetStream server and a connection to it', async () => {
    expect(bus.server.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    await expect((await bus.nc.jetstreamManager()).getAccountInfo()).resolves.toMatchObject({ streams: 0 });
  });

  it('says which fixture value was read before its beforeAll ran', () => {
    expect(String(early)).toBe('Error: withNats: nc is used before beforeAll ran');
  });
});

describe('withPostgres with TESSERA_TEST_PG_URL', () => {
  const saved = process.env.TESSERA_TEST_PG_URL;
  process.env.TESSERA_TEST_PG_URL = 'postgres://postgres@db.example:5432/tests';
  const pg = withPostgres();
  if (saved === undefined) delete process.env.TESSERA_TEST_PG_URL;
  else process.env.TESSERA_TEST_PG_URL = saved;

  it('points at that server and starts none', () => {
    expect(pg.url).toBe('postgres://postgres@db.example:5432/tests');
  });
});
