import pg from 'pg';
import { expect, it } from 'vitest';
import { startPostgres } from './postgres.js';

it('starts its own PostgreSQL on a free port and stops it', { timeout: 180_000 }, async () => {
  const server = await startPostgres();
  const pool = new pg.Pool({ connectionString: server.url, max: 1 });
  try {
    const r = await pool.query<{ v: string }>('SELECT version() AS v');
    expect(r.rows[0]!.v).toMatch(/^PostgreSQL \d+/);
  } finally {
    await pool.end();
    await server.stop();
  }
  const after = new pg.Pool({ connectionString: server.url, max: 1, connectionTimeoutMillis: 1000 });
  await expect(after.query('SELECT 1')).rejects.toThrow();
  await after.end();
});
