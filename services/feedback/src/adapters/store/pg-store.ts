import pg from 'pg';
import type { SequencedEvent } from '../../domain/events.js';
import type { FeedbackRecord, ObjectRef, ResponseRecord, Stored } from '../../domain/types.js';
import { imagesOf, type FeedbackQuery, type FeedbackRow, type FeedbackStore } from '../../domain/store.js';

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
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const last = Number((await c.query(`SELECT last_seq FROM ${this.s}.projector_state WHERE id = 1 FOR UPDATE`)).rows[0].last_seq);
      const fresh = batch.filter((b) => b.seq > last).sort((a, b) => a.seq - b.seq);
      // Runs of responses/feedback between erase markers go in as a few multi-row statements
      // (one round trip per kind instead of one per event); an erase ends a run.
      let run: SequencedEvent[] = [];
      for (const b of fresh) {
        if (b.event.type !== 'erase') {
          run.push(b);
          continue;
        }
        await this.insertRun(c, run, now);
        run = [];
        for (const t of ['feedback', 'images', 'responses']) await c.query(`DELETE FROM ${this.s}.${t} WHERE tenant = $1`, [b.event.tenant]);
      }
      await this.insertRun(c, run, now);
      if (fresh.length) await c.query(`UPDATE ${this.s}.projector_state SET last_seq = $1 WHERE id = 1`, [fresh[fresh.length - 1].seq]);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  /**
   * Inserts a run of response and feedback events. Responses first: a feedback event always comes
   * after the responses it references (validated before it was appended), so this keeps the
   * log's meaning. ON CONFLICT DO NOTHING keeps the first of a repeated id (rows are ordered by seq).
   */
  private async insertRun(c: pg.PoolClient, run: readonly SequencedEvent[], now: number): Promise<void> {
    const s = this.s;
    const responses = run.flatMap((b) => (b.event.type === 'response' && b.event.record.expiresAt > now ? [{ seq: b.seq, r: b.event.record }] : []));
    if (responses.length) {
      const rows = responses.map(({ seq, r }) => ({ tenant: r.tenant, response_id: r.responseId, seq, expires_at: r.expiresAt, record: { ...r, seq } }));
      const ins = await c.query(
        `INSERT INTO ${s}.responses (tenant, response_id, seq, expires_at, record)
         SELECT tenant, response_id, seq, expires_at, record FROM jsonb_to_recordset($1::jsonb)
           AS x(tenant text, response_id text, seq bigint, expires_at bigint, record jsonb) ORDER BY seq
         ON CONFLICT DO NOTHING RETURNING tenant, response_id`,
        [JSON.stringify(rows)],
      );
      const inserted = new Set(ins.rows.map((x: { tenant: string; response_id: string }) => `${x.tenant}\u0000${x.response_id}`));
      const images = responses.flatMap(({ r }) => (inserted.has(`${r.tenant}\u0000${r.responseId}`) ? imagesOf(r).map((img) => ({ tenant: r.tenant, response_id: r.responseId, bucket: img.bucket, key: img.key, ref: img })) : []));
      if (images.length) {
        await c.query(
          `INSERT INTO ${s}.images SELECT tenant, response_id, bucket, key, ref FROM jsonb_to_recordset($1::jsonb)
             AS x(tenant text, response_id text, bucket text, key text, ref jsonb) ON CONFLICT DO NOTHING`,
          [JSON.stringify(images)],
        );
      }
    }
    const feedback = run.flatMap((b) => (b.event.type === 'feedback' ? [{ seq: b.seq, f: b.event.record }] : []));
    if (feedback.length) {
      const rows = feedback.map(({ seq, f }) => ({
        tenant: f.tenant, feedback_id: f.feedbackId, response_id: f.responseId, chosen_id: f.preference?.chosenResponseId ?? null, rejected_id: f.preference?.rejectedResponseId ?? null,
        seq, created_at: f.createdAt, source: f.annotator.source, record: { ...f, seq },
      }));
      // Insert only rows whose every referenced response is present and unexpired.
      await c.query(
        `INSERT INTO ${s}.feedback
         SELECT x.tenant, x.feedback_id, x.response_id, x.chosen_id, x.rejected_id, x.seq, x.created_at, x.source, x.record
         FROM jsonb_to_recordset($1::jsonb) AS x(tenant text, feedback_id text, response_id text, chosen_id text, rejected_id text, seq bigint, created_at bigint, source text, record jsonb)
         WHERE EXISTS (SELECT 1 FROM ${s}.responses r WHERE r.tenant = x.tenant AND r.response_id = x.response_id AND r.expires_at > $2)
           AND (x.chosen_id IS NULL OR EXISTS (SELECT 1 FROM ${s}.responses r WHERE r.tenant = x.tenant AND r.response_id = x.chosen_id AND r.expires_at > $2))
           AND (x.rejected_id IS NULL OR EXISTS (SELECT 1 FROM ${s}.responses r WHERE r.tenant = x.tenant AND r.response_id = x.rejected_id AND r.expires_at > $2))
         ORDER BY x.seq
         ON CONFLICT DO NOTHING`,
        [JSON.stringify(rows), now],
      );
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
