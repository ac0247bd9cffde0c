/**
 * Compiles the filter AST to a LanceDB (DataFusion SQL) predicate. Safety by construction:
 * column names come from METADATA_KEY-validated keys (identifiers only) and are backquoted;
 * strings are single-quoted with quotes doubled; numbers must be finite; NUL is rejected. A value
 * can therefore never end its literal and inject SQL.
 * Missing fields: a record without the field matches $ne / $nin / $not_contains and nothing else.
 * A field no record of the collection has ever carried is INVALID_ARGUMENT in queries
 * (`unknownFields: 'reject'`: almost always a typo that would silently return nothing) and the
 * "missing" rule above in get / delete / count (Chroma's semantics).
 * List fields: $eq / $in mean "the list contains", $ne / $nin "does not contain"; ranges are
 * INVALID_ARGUMENT on lists.
 */
import { invalidArgument } from '@tessera/runtime';
import type { RecordFilter } from '../../domain/vector-store.js';
import type { Scalar, Where, WhereDocument } from '../../domain/filter/where.js';

export type ColumnType = 'string' | 'number' | 'boolean' | 'string[]' | 'number[]' | 'boolean[]';

export function metadataColumn(key: string): string {
  return `m_${key}`;
}

export function sqlString(s: string): string {
  if (s.includes('\u0000')) throw invalidArgument('filter', 'filter strings must not contain NUL');
  return `'${s.replace(/'/g, "''")}'`;
}

export function sqlLiteral(v: Scalar): string {
  if (typeof v === 'string') return sqlString(v);
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (!Number.isFinite(v)) throw invalidArgument('filter', 'filter numbers must be finite');
  // Always a DOUBLE literal, so integer and float metadata compare alike.
  return `CAST(${sqlString(String(v))} AS DOUBLE)`;
}

const CMP_SQL = { $eq: '=', $ne: '<>', $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' } as const;

function valueType(v: Scalar): 'string' | 'number' | 'boolean' {
  return typeof v as 'string' | 'number' | 'boolean';
}

export type UnknownFields = 'missing' | 'reject';

export function compileWhere(w: Where, columns: ReadonlyMap<string, ColumnType>, path = 'where', unknown: UnknownFields = 'missing'): string {
  if (w.kind === 'and' || w.kind === 'or') {
    return `(${w.items.map((x, i) => compileWhere(x, columns, `${path}.$${w.kind}[${i}]`, unknown)).join(w.kind === 'and' ? ' AND ' : ' OR ')})`;
  }
  const fpath = `${path}.${w.field}`;
  const type = columns.get(w.field);
  const values = w.kind === 'cmp' ? [w.value] : w.values;
  const negative = w.op === '$ne' || w.op === '$nin';
  if (type === undefined) {
    if (unknown === 'reject') {
      const known = [...columns.keys()].sort().slice(0, 20).join(', ') || 'none yet';
      throw invalidArgument(fpath, `${fpath}: no record of this collection has the metadata field ${JSON.stringify(w.field)} (fields: ${known})`);
    }
    return negative ? 'TRUE' : 'FALSE';
  }
  const isList = type.endsWith('[]');
  const base = isList ? type.slice(0, -2) : type;
  const vt = valueType(values[0]!);
  if (vt !== base) throw invalidArgument(`${fpath}.${w.op}`, `${fpath}: the field holds ${type} values, the filter gives a ${vt}`);
  const col = `\`${metadataColumn(w.field)}\``;
  if (w.kind === 'cmp') {
    if (isList) {
      if (w.op !== '$eq' && w.op !== '$ne') throw invalidArgument(`${fpath}.${w.op}`, `${fpath}: ${w.op} does not apply to a list field`);
      const has = `coalesce(array_has(${col}, ${sqlLiteral(w.value)}), FALSE)`;
      return w.op === '$eq' ? has : `NOT ${has}`;
    }
    const cmp = `${col} ${CMP_SQL[w.op]} ${sqlLiteral(w.value)}`;
    return w.op === '$ne' ? `(${col} IS NULL OR ${cmp})` : `(${col} IS NOT NULL AND ${cmp})`;
  }
  const list = w.values.map(sqlLiteral).join(', ');
  if (isList) {
    const any = `coalesce(array_has_any(${col}, make_array(${list})), FALSE)`;
    return w.op === '$in' ? any : `NOT ${any}`;
  }
  return w.op === '$in' ? `(${col} IS NOT NULL AND ${col} IN (${list}))` : `(${col} IS NULL OR ${col} NOT IN (${list}))`;
}

export function compileWhereDocument(w: WhereDocument): string {
  if (w.kind === 'and' || w.kind === 'or') return `(${w.items.map(compileWhereDocument).join(w.kind === 'and' ? ' AND ' : ' OR ')})`;
  // instr on the folded copy of the text: a literal substring test (no LIKE wildcards to escape).
  const has = `instr(\`text_folded\`, ${sqlString(w.pattern)}) > 0`;
  return w.negate ? `NOT (${has})` : has;
}

export function compileFilter(f: RecordFilter | undefined, columns: ReadonlyMap<string, ColumnType>, unknown: UnknownFields = 'missing'): string | undefined {
  if (!f) return undefined;
  const parts: string[] = [];
  if (f.ids) parts.push(f.ids.length === 0 ? 'FALSE' : `\`id\` IN (${f.ids.map(sqlString).join(', ')})`);
  if (f.where) parts.push(compileWhere(f.where, columns, 'where', unknown));
  if (f.whereDocument) parts.push(compileWhereDocument(f.whereDocument));
  return parts.length > 0 ? parts.join(' AND ') : undefined;
}
