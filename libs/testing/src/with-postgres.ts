import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type PostgresHandle } from './postgres.js';
import { fixtureValue } from './fixture.js';

export interface PostgresFixture {
  /** `postgres://…` of this file's own server, or TESSERA_TEST_PG_URL when that is set. */
  readonly url: string;
}

/**
 * A real PostgreSQL for the enclosing test file or `describe` (startPostgres in beforeAll, stopped in
 * afterAll), never skipped; TESSERA_TEST_PG_URL points the suite at an existing server instead. The
 * setup the feedback store and feedback core tests used to repeat.
 */
export function withPostgres(): PostgresFixture {
  const external = process.env.TESSERA_TEST_PG_URL;
  let server: PostgresHandle | undefined;
  beforeAll(async () => {
    if (!external) server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get url() {
      return external ?? fixtureValue('withPostgres', 'url', server?.url);
    },
  };
}
