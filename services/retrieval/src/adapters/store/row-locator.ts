/**
 * Fetches ranked records by id without scanning the table. After a graph or BM25 search the store
 * needs ~10 rows by id; `id IN (…)` scans the whole id column (p50 12–13 ms at 100k rows on the
 * shared machine), while Lance's `takeRowIds` reads just those rows (3.6–4.7 ms). Row ids are only
 * valid for one table version (a merge-insert moves replaced rows, compaction moves all), so the
 * id → row id map is tagged with the version it was read at and dropped as soon as the table's
 * version differs; it is (re)loaded in the background from one `id` column scan, and until it is
 * ready — or for any id it lacks, or if a take fails — the `IN` query answers, as before. Rows
 * returned by a take are checked against the requested id.
 */
import type * as lancedb from '@lancedb/lancedb';

type Row = Record<string, unknown>;

interface VersionMap {
  version: number;
  ids?: Map<string, bigint>;
  loading?: Promise<void>;
}

export class RowLocator {
  private readonly maps = new WeakMap<lancedb.Table, VersionMap>();

  constructor(
    /** `where` SQL selecting exactly these ids (the store's own compiler, quoting included). */
    private readonly idFilter: (ids: readonly string[]) => string,
  ) {}

  /** The rows of `ids` that exist, by id. */
  async rows(table: lancedb.Table, ids: readonly string[], columns: readonly string[]): Promise<Map<string, Row>> {
    const out = new Map<string, Row>();
    if (ids.length === 0) return out;
    const version = await table.version();
    let m = this.maps.get(table);
    if (!m || m.version !== version) {
      m = { version };
      this.maps.set(table, m);
      const entry = m;
      entry.loading = this.load(table, entry).finally(() => (entry.loading = undefined));
    }
    let missing: readonly string[] = ids;
    if (m.ids) {
      const known = ids.filter((id) => m.ids!.has(id));
      if (known.length > 0) {
        try {
          for (const r of await table.takeRowIds(known.map((id) => m.ids!.get(id)!)).select([...columns]).toArray()) {
            const id = r.id as string;
            if (known.includes(id)) out.set(id, r as Row);
          }
        } catch {
          // A row id the table no longer has: the scan below answers for it.
        }
      }
      missing = ids.filter((id) => !out.has(id));
    }
    if (missing.length > 0) {
      for (const r of await table.query().where(this.idFilter(missing)).select([...columns]).limit(missing.length).toArray()) out.set(r.id as string, r as Row);
    }
    return out;
  }

  /** One scan of `id` + row id; kept only if the table is still at the version it was started for. */
  private async load(table: lancedb.Table, entry: VersionMap): Promise<void> {
    try {
      const rows = await table.query().select(['id']).withRowId().toArray();
      if ((await table.version()) !== entry.version) return;
      entry.ids = new Map(rows.map((r) => [r.id as string, r._rowid as bigint]));
    } catch {
      // Leave the map empty: fetches use the scan.
    }
  }

  /** Settles background loads (close / tests). */
  async idle(table: lancedb.Table): Promise<void> {
    await this.maps.get(table)?.loading;
  }
}
