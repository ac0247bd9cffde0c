import pg from 'pg';
import type { SequencedEvent } from '../domain/events.js';
import type { FeedbackRecord, ObjectRef, ResponseRecord, Stored } from '../domain/types.js';
import { imagesOf, type FeedbackQuery, type FeedbackRow, type FeedbackStore } from './store.js';

export interface PgStoreOptions {
  url: string;
  /** Schema holding the tables (one per deployment or test run). */
  schema: string;
  poolSize: number;
}

const PAGE = 500;

/**
 * PostgreSQL projection (TESSERA_FEEDBACK_STORE=postgres). Records are jsonb next to the columns
 * the queries filter on. `apply` runs one transaction per batch that also moves
 * projector_state.last_seq, so a batch is either fully applied with its sequence or not at all;
 * inserts are ON CONFLICT DO NOTHING, which keeps a replay after a crash a no-op.
 */
export class PgStore implements FeedbackStore {
  readonly kind = 'postgres' as const;
  private readonly s: string;

  private constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    this.s = `"${schema}"`;
  }

  static async open(opts: PgStoreOptions): Promise<PgStore> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(opts.schema)) throw new Error(`TESSERA_FEEDBACK_PG_SCHEMA "${opts.schema}" must match ^[a-z_][a-z0-9_]{0,62}$`);
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize });
    const store = new PgStore(pool, opts.schema);
    try {
      await store.migrate();
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const s = this.s;
    await this.pool.query(`
      CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}.projector_state (id int PRIMARY KEY, last_seq bigint NOT NULL);
      INSERT INTO ${s}.projector_state VALUES (1, 0) ON CONFLICT DO NOTHING;
      CREATE TABLE IF NOT EXISTS ${s}.responses (
        tenant text NOT NULL, response_id text NOT NULL, seq bigint NOT NULL, expires_at bigint NOT NULL, record jsonb NOT NULL,
        PRIMARY KEY (tenant, response_id));
      CREATE INDEX IF NOT EXISTS responses_tenant_seq ON ${s}.responses (tenant, seq);
      CREATE TABLE IF NOT EXISTS ${s}.feedback (
        tenant text NOT NULL, feedback_id text NOT NULL, response_id text NOT NULL, chosen_id text, rejected_id text,
        seq bigint NOT NULL, created_at bigint NOT NULL, source text NOT NULL, record jsonb NOT NULL,
        PRIMARY KEY (tenant, feedback_id));
      CREATE INDEX IF NOT EXISTS feedback_tenant_seq ON ${s}.feedback (tenant, seq);
      CREATE TABLE IF NOT EXISTS ${s}.images (
        tenant text NOT NULL, response_id text NOT NULL, bucket text NOT NULL, key text NOT NULL, ref jsonb NOT NULL,
        PRIMARY KEY (tenant, response_id, bucket, key));
      CREATE INDEX IF NOT EXISTS images_object ON ${s}.images (bucket, key);
    `);
  }

  async lastSeq(): Promise<number> {
    const r = await this.pool.query(`SELECT last_seq FROM ${this.s}.projector_state WHERE id = 1`);
    return Number(r.rows[0].last_seq);
  }

  async apply(batch: readonly SequencedEvent[], now: number): Promise<void> {
    if (batch.length === 0) return;
    const s = this.s;
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const last = Number((await c.query(`SELECT last_seq FROM ${s}.projector_state WHERE id = 1 FOR UPDATE`)).rows[0].last_seq);
      let top = last;
      for (const { seq, event: e } of batch) {
        if (seq <= top) continue;
        top = seq;
        if (e.type === 'erase') {
          for (const t of ['feedback', 'images', 'responses']) await c.query(`DELETE FROM ${s}.${t} WHERE tenant = $1`, [e.tenant]);
        } else if (e.type === 'response') {
          const r = e.record;
          if (r.expiresAt <= now) continue;
          const ins = await c.query(`INSERT INTO ${s}.responses VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [r.tenant, r.responseId, seq, r.expiresAt, JSON.stringify({ ...r, seq })]);
          if (ins.rowCount) for (const img of imagesOf(r)) await c.query(`INSERT INTO ${s}.images VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [r.tenant, r.responseId, img.bucket, img.key, JSON.stringify(img)]);
        } else {
          const f = e.record;
          // Insert only when every referenced response is present and unexpired.
          const ids = [f.responseId, f.preference?.chosenResponseId, f.preference?.rejectedResponseId].filter((x): x is string => !!x);
          await c.query(
            `INSERT INTO ${s}.feedback
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
             WHERE (SELECT count(*) FROM ${s}.responses WHERE tenant = $1 AND response_id = ANY($10::text[]) AND expires_at > $11) = cardinality(ARRAY(SELECT DISTINCT unnest($10::text[])))
             ON CONFLICT DO NOTHING`,
            [f.tenant, f.feedbackId, f.responseId, f.preference?.chosenResponseId ?? null, f.preference?.rejectedResponseId ?? null, seq, f.createdAt, f.annotator.source, JSON.stringify({ ...f, seq }), ids, now],
          );
        }
      }
      await c.query(`UPDATE ${s}.projector_state SET last_seq = $1 WHERE id = 1`, [top]);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  async getResponse(tenant: string, responseId: string, now: number): Promise<Stored<ResponseRecord> | undefined> {
    const r = await this.pool.query(`SELECT record FROM ${this.s}.responses WHERE tenant = $1 AND response_id = $2 AND expires_at > $3`, [tenant, responseId, now]);
    return r.rows[0]?.record;
  }

  async getFeedback(tenant: string, feedbackId: string): Promise<Stored<FeedbackRecord> | undefined> {
    const r = await this.pool.query(`SELECT record FROM ${this.s}.feedback WHERE tenant = $1 AND feedback_id = $2`, [tenant, feedbackId]);
    return r.rows[0]?.record;
  }

  async *scanFeedback(q: FeedbackQuery, now: number): AsyncIterable<FeedbackRow> {
    const s = this.s;
    const desc = q.newestFirst === true;
    let cursor = q.beforeSeq ?? (desc ? Number.MAX_SAFE_INTEGER : 0);
    if (!desc && q.beforeSeq !== undefined) cursor = 0;
    for (;;) {
      const params: unknown[] = [q.tenant, now, cursor];
      const where = [`f.tenant = $1`, desc ? `f.seq < $3` : `f.seq > $3`];
      if (!desc && q.beforeSeq !== undefined) (params.push(q.beforeSeq), where.push(`f.seq < $${params.length}`));
      if (q.from !== undefined) (params.push(q.from), where.push(`f.created_at >= $${params.length}`));
      if (q.to !== undefined) (params.push(q.to), where.push(`f.created_at < $${params.length}`));
      if (q.source !== undefined) (params.push(q.source), where.push(`f.source = $${params.length}`));
      if (q.responseId !== undefined) (params.push(q.responseId), where.push(`$${params.length} IN (f.response_id, f.chosen_id, f.rejected_id)`));
      const res = await this.pool.query(
        `SELECT f.seq, f.record AS f, r.record AS r, c.record AS c, j.record AS j
         FROM ${s}.feedback f
         JOIN ${s}.responses r ON r.tenant = f.tenant AND r.response_id = f.response_id AND r.expires_at > $2
         LEFT JOIN ${s}.responses c ON c.tenant = f.tenant AND c.response_id = f.chosen_id AND c.expires_at > $2
         LEFT JOIN ${s}.responses j ON j.tenant = f.tenant AND j.response_id = f.rejected_id AND j.expires_at > $2
         WHERE ${where.join(' AND ')}
         ORDER BY f.seq ${desc ? 'DESC' : 'ASC'} LIMIT ${PAGE}`,
        params,
      );
      for (const row of res.rows) {
        const f = row.f as Stored<FeedbackRecord>;
        if (f.preference) {
          if (!row.c || !row.j) continue;
          yield { feedback: f, response: row.r, chosen: row.c, rejected: row.j };
        } else yield { feedback: f, response: row.r };
      }
      if (res.rows.length < PAGE) return;
      cursor = Number(res.rows[res.rows.length - 1].seq);
    }
  }

  async *scanResponses(tenant: string, now: number): AsyncIterable<Stored<ResponseRecord>> {
    let cursor = 0;
    for (;;) {
      const res = await this.pool.query(`SELECT seq, record FROM ${this.s}.responses WHERE tenant = $1 AND expires_at > $2 AND seq > $3 ORDER BY seq LIMIT ${PAGE}`, [tenant, now, cursor]);
      for (const row of res.rows) yield row.record;
      if (res.rows.length < PAGE) return;
      cursor = Number(res.rows[res.rows.length - 1].seq);
    }
  }

  async counts(tenant: string): Promise<{ responses: number; feedback: number }> {
    const r = await this.pool.query(`SELECT (SELECT count(*) FROM ${this.s}.responses WHERE tenant = $1) AS r, (SELECT count(*) FROM ${this.s}.feedback WHERE tenant = $1) AS f`, [tenant]);
    return { responses: Number(r.rows[0].r), feedback: Number(r.rows[0].f) };
  }

  async imageRefs(tenant: string): Promise<ObjectRef[]> {
    const r = await this.pool.query(`SELECT DISTINCT ON (bucket, key) ref FROM ${this.s}.images WHERE tenant = $1`, [tenant]);
    return r.rows.map((x) => x.ref);
  }

  async isObjectReferenced(bucket: string, key: string): Promise<boolean> {
    const r = await this.pool.query(`SELECT 1 FROM ${this.s}.images WHERE bucket = $1 AND key = $2 LIMIT 1`, [bucket, key]);
    return (r.rowCount ?? 0) > 0;
  }

  async sweepExpired(now: number): Promise<number> {
    const s = this.s;
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const gone = await c.query(`DELETE FROM ${s}.responses WHERE expires_at <= $1 RETURNING tenant, response_id`, [now]);
      if (gone.rowCount) {
        await c.query(`DELETE FROM ${s}.images i WHERE NOT EXISTS (SELECT 1 FROM ${s}.responses r WHERE r.tenant = i.tenant AND r.response_id = i.response_id)`);
        await c.query(
          `DELETE FROM ${s}.feedback f WHERE NOT EXISTS (SELECT 1 FROM ${s}.responses r WHERE r.tenant = f.tenant AND r.response_id = f.response_id)
             OR (f.chosen_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${s}.responses r WHERE r.tenant = f.tenant AND r.response_id = f.chosen_id))
             OR (f.rejected_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${s}.responses r WHERE r.tenant = f.tenant AND r.response_id = f.rejected_id))`,
        );
      }
      await c.query('COMMIT');
      return gone.rowCount ?? 0;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  /** Drops the schema (tests). */
  async dropSchema(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.s} CASCADE`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
