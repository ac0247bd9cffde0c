/**
 * The filter language (Chroma's `where` / `whereDocument`, see the proto file comment), parsed and
 * validated into a small AST that each store compiles to its own query language. Nothing from the
 * request reaches a store as text: field names must match METADATA_KEY and values are typed.
 */
import { invalidArgument } from '@tessera/runtime';
import { codePointLength } from '../text/code-points.js';
import { foldCase } from '../text/fold.js';

export type Scalar = string | number | boolean;
export type CmpOp = '$eq' | '$ne' | '$gt' | '$gte' | '$lt' | '$lte';
export type SetOp = '$in' | '$nin';

export type Where =
  | { kind: 'and'; items: Where[] }
  | { kind: 'or'; items: Where[] }
  | { kind: 'cmp'; field: string; op: CmpOp; value: Scalar }
  | { kind: 'set'; field: string; op: SetOp; values: Scalar[] };

export type WhereDocument =
  | { kind: 'and'; items: WhereDocument[] }
  | { kind: 'or'; items: WhereDocument[] }
  /** `pattern` is already case-folded (NFKC + lowercase); match it against folded text. */
  | { kind: 'contains'; negate: boolean; pattern: string };

export interface FilterLimits {
  /** [8] Comparisons in one filter. */
  maxPredicates: number;
  /** [4] Nesting depth of $and / $or. */
  maxDepth: number;
  /** [100] Values in one $in / $nin list. */
  maxInValues: number;
  /** [256] Code points in one $contains pattern. */
  maxPatternLength: number;
}

export const DEFAULT_FILTER_LIMITS: FilterLimits = { maxPredicates: 8, maxDepth: 4, maxInValues: 100, maxPatternLength: 256 };

/** Metadata keys: identifiers only, so they can name a store column without quoting tricks. */
export const METADATA_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const CMP_OPS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte']);
const SET_OPS = new Set(['$in', '$nin']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeOf(v: unknown): 'string' | 'number' | 'boolean' | null {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isFinite(v) ? 'number' : null;
  if (typeof v === 'boolean') return 'boolean';
  return null;
}

export function parseWhere(input: unknown, limits: FilterLimits = DEFAULT_FILTER_LIMITS, path = 'where'): Where | undefined {
  if (input === undefined || input === null) return undefined;
  if (isPlainObject(input) && Object.keys(input).length === 0) return undefined;
  const counter = { n: 0 };
  return parseNode(input, limits, path, 1, counter);
}

function parseNode(input: unknown, limits: FilterLimits, path: string, depth: number, counter: { n: number }): Where {
  if (!isPlainObject(input)) throw invalidArgument(path, `${path} must be an object`);
  const keys = Object.keys(input);
  if (keys.length !== 1) throw invalidArgument(path, `${path} must have exactly one field or one logical operator, got ${keys.length}`);
  const key = keys[0]!;
  const value = input[key];
  if (key === '$and' || key === '$or') {
    if (depth > limits.maxDepth) throw invalidArgument(path, `${path} nests deeper than ${limits.maxDepth}`, `depth <= ${limits.maxDepth}`);
    if (!Array.isArray(value) || value.length === 0) throw invalidArgument(`${path}.${key}`, `${path}.${key} must be a non-empty list of filters`);
    return { kind: key === '$and' ? ('and' as const) : ('or' as const), items: value.map((v, i) => parseNode(v, limits, `${path}.${key}[${i}]`, depth + 1, counter)) };
  }
  if (key.startsWith('$')) throw invalidArgument(`${path}.${key}`, `${path}: unknown operator ${key} (expected a field name, $and or $or)`);
  const field = key;
  const fpath = `${path}.${field}`;
  if (!METADATA_KEY.test(field)) throw invalidArgument(fpath, `${fpath}: metadata key must match ${METADATA_KEY.source}`);
  if (++counter.n > limits.maxPredicates) throw invalidArgument(fpath, `filter has more than ${limits.maxPredicates} predicates`, `predicates <= ${limits.maxPredicates}`);
  if (!isPlainObject(value)) {
    if (typeOf(value) === null) throw invalidArgument(fpath, `${fpath}: value must be a string, finite number or boolean`);
    return { kind: 'cmp', field, op: '$eq', value: value as Scalar };
  }
  const ops = Object.keys(value);
  if (ops.length !== 1) throw invalidArgument(fpath, `${fpath} must have exactly one operator, got ${ops.length}`);
  const op = ops[0]!;
  const arg = value[op];
  const opath = `${fpath}.${op}`;
  if (CMP_OPS.has(op)) {
    const t = typeOf(arg);
    if (t === null) throw invalidArgument(opath, `${opath}: value must be a string, finite number or boolean`);
    if (op !== '$eq' && op !== '$ne' && t !== 'number') throw invalidArgument(opath, `${opath}: ${op} needs a number, got ${t}`);
    return { kind: 'cmp', field, op: op as CmpOp, value: arg as Scalar };
  }
  if (SET_OPS.has(op)) {
    if (!Array.isArray(arg) || arg.length === 0) throw invalidArgument(opath, `${opath} must be a non-empty list`);
    if (arg.length > limits.maxInValues) throw invalidArgument(opath, `${opath} has ${arg.length} values`, `values <= ${limits.maxInValues}`);
    const t0 = typeOf(arg[0]);
    if (t0 === null || arg.some((v) => typeOf(v) !== t0)) throw invalidArgument(opath, `${opath} must list values of one type (string, number or boolean)`);
    return { kind: 'set', field, op: op as SetOp, values: arg as Scalar[] };
  }
  throw invalidArgument(opath, `${fpath}: unknown operator ${op} (expected one of $eq $ne $gt $gte $lt $lte $in $nin)`);
}

export function parseWhereDocument(input: unknown, limits: FilterLimits = DEFAULT_FILTER_LIMITS, path = 'where_document'): WhereDocument | undefined {
  if (input === undefined || input === null) return undefined;
  if (isPlainObject(input) && Object.keys(input).length === 0) return undefined;
  const counter = { n: 0 };
  return parseDocNode(input, limits, path, 1, counter);
}

function parseDocNode(input: unknown, limits: FilterLimits, path: string, depth: number, counter: { n: number }): WhereDocument {
  if (!isPlainObject(input)) throw invalidArgument(path, `${path} must be an object`);
  const keys = Object.keys(input);
  if (keys.length !== 1) throw invalidArgument(path, `${path} must have exactly one operator, got ${keys.length}`);
  const key = keys[0]!;
  const value = input[key];
  const kpath = `${path}.${key}`;
  if (key === '$and' || key === '$or') {
    if (depth > limits.maxDepth) throw invalidArgument(path, `${path} nests deeper than ${limits.maxDepth}`, `depth <= ${limits.maxDepth}`);
    if (!Array.isArray(value) || value.length === 0) throw invalidArgument(kpath, `${kpath} must be a non-empty list of filters`);
    return { kind: key === '$and' ? ('and' as const) : ('or' as const), items: value.map((v, i) => parseDocNode(v, limits, `${kpath}[${i}]`, depth + 1, counter)) };
  }
  if (key !== '$contains' && key !== '$not_contains') throw invalidArgument(kpath, `${path}: unknown operator ${key} (expected $contains, $not_contains, $and or $or)`);
  if (typeof value !== 'string' || value === '') throw invalidArgument(kpath, `${kpath} must be a non-empty string`);
  if (codePointLength(value) > limits.maxPatternLength) throw invalidArgument(kpath, `${kpath} is longer than ${limits.maxPatternLength} code points`, `length <= ${limits.maxPatternLength}`);
  if (++counter.n > limits.maxPredicates) throw invalidArgument(kpath, `filter has more than ${limits.maxPredicates} predicates`, `predicates <= ${limits.maxPredicates}`);
  return { kind: 'contains', negate: key === '$not_contains', pattern: foldCase(value) };
}
