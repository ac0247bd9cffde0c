/**
 * Metadata lives twice in a row: as JSON (returned as written) and as one typed column per key
 * (`m_<key>`, what filters compile against). A key's type is fixed by its first value and read
 * back from the table schema, so the schema is the single source of truth across restarts.
 */
import { arrow, type DataType, type Field } from './arrow.js';
import { invalidArgument } from '@tessera/runtime';
import { METADATA_KEY } from '../../domain/filter/where.js';
import type { ColumnType } from './lance-sql.js';
import type { Metadata, MetadataValue } from '../../domain/vector-store.js';

export const METADATA_PREFIX = 'm_';

export function arrowTypeFor(t: ColumnType): DataType {
  const scalar = (b: string): DataType => (b === 'string' ? new arrow.Utf8() : b === 'number' ? new arrow.Float64() : new arrow.Bool());
  return t.endsWith('[]') ? new arrow.List(new arrow.Field('item', scalar(t.slice(0, -2)), true)) : scalar(t);
}

export function columnTypeOf(field: Field): ColumnType | undefined {
  const t = field.type;
  const base = (x: DataType): 'string' | 'number' | 'boolean' | undefined =>
    arrow.DataType.isUtf8(x) || arrow.DataType.isLargeUtf8(x) ? 'string' : arrow.DataType.isFloat(x) || arrow.DataType.isInt(x) ? 'number' : arrow.DataType.isBool(x) ? 'boolean' : undefined;
  if (arrow.DataType.isList(t)) {
    const b = base((t as InstanceType<typeof arrow.List>).valueType);
    return b ? (`${b}[]` as ColumnType) : undefined;
  }
  return base(t);
}

/** The type of one metadata value, or undefined for an empty list (fits any list column). */
export function valueColumnType(v: MetadataValue, field: string): ColumnType | undefined {
  const scalarType = (x: unknown): 'string' | 'number' | 'boolean' | null =>
    typeof x === 'string' ? 'string' : typeof x === 'number' && Number.isFinite(x) ? 'number' : typeof x === 'boolean' ? 'boolean' : null;
  if (Array.isArray(v)) {
    if (v.length === 0) return undefined;
    const t = scalarType(v[0]);
    if (t === null || v.some((x) => scalarType(x) !== t)) throw invalidArgument(field, `${field}: a list must hold strings, finite numbers or booleans of one type`);
    return `${t}[]` as ColumnType;
  }
  const t = scalarType(v);
  if (t === null) throw invalidArgument(field, `${field}: metadata values must be strings, finite numbers, booleans or lists of one of them`);
  return t;
}

export function checkMetadata(md: Metadata, field: string, maxKeys: number): void {
  const keys = Object.keys(md);
  if (keys.length > maxKeys) throw invalidArgument(field, `${field} has ${keys.length} keys`, `keys <= ${maxKeys}`);
  for (const k of keys) {
    if (!METADATA_KEY.test(k)) throw invalidArgument(`${field}.${k}`, `${field}: key ${JSON.stringify(k)} must match ${METADATA_KEY.source}`);
    valueColumnType(md[k]!, `${field}.${k}`);
  }
}
