/**
 * JSON Schema → the grammar the constrained decoder enforces. The supported subset is what OpenAI
 * structured outputs, zod (`zodResponseFormat`, LangChain `withStructuredOutput`) and pydantic emit
 * for ordinary models; anything else is refused with INVALID_ARGUMENT naming the keyword and its
 * path, never silently ignored (a constraint we do not enforce would produce output that fails the
 * caller's own validation).
 *
 * Supported: `type` (one or a list), `properties`, `required`, `additionalProperties` (boolean or a
 * schema), `items` (one schema), `minItems`, `maxItems`, `enum`, `const`, `anyOf`, `$ref` to
 * `#/$defs/…` or `#/definitions/…` (recursion allowed), boolean schemas. Annotations are ignored:
 * `title`, `description`, `default`, `examples`, `$schema`, `$id`, `$comment`, `deprecated`,
 * `readOnly`, `writeOnly`, `strict`, and `$defs`/`definitions` themselves.
 * Refused (400): `pattern`, `format`, `minLength`/`maxLength`, `minimum`/`maximum`/exclusive
 * bounds/`multipleOf`, `oneOf`, `allOf`, `not`, `if`/`then`/`else`, `patternProperties`,
 * `propertyNames`, `dependencies`, `prefixItems`, `uniqueItems`, `contains`, min/maxProperties,
 * remote `$ref`s, and `enum`/`const` combined with structural keywords.
 *
 * Semantics the generator adds (documented for callers): output is compact JSON (no whitespace
 * between tokens); `enum`/`const` values are produced in their compact `JSON.stringify` form.
 */
import { invalidArgument } from '@tessera/errors';

export type JsonType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

export type SchemaNode =
  | { kind: 'any' }
  | { kind: 'never' }
  | { kind: 'typed'; types: ReadonlySet<JsonType>; object: ObjectSpec; array: ArraySpec }
  | { kind: 'literals'; values: readonly string[] }
  | { kind: 'anyOf'; options: readonly SchemaNode[] }
  | { kind: 'ref'; resolve: () => SchemaNode };

export interface ObjectSpec {
  /** Declared properties in declaration order: JSON-escaped key (without quotes) → schema. */
  properties: ReadonlyMap<string, SchemaNode>;
  required: ReadonlySet<string>;
  /** Schema of undeclared keys; `false` = none allowed. */
  additional: SchemaNode | false;
}

export interface ArraySpec {
  items: SchemaNode;
  minItems: number;
  maxItems: number;
}

const ANNOTATIONS = new Set(['title', 'description', 'default', 'examples', '$schema', '$id', '$comment', 'deprecated', 'readOnly', 'writeOnly', 'strict', '$defs', 'definitions']);
const STRUCTURAL = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems']);
const TYPES: ReadonlySet<string> = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
const ANY: SchemaNode = { kind: 'any' };
const NEVER: SchemaNode = { kind: 'never' };

export interface CompileOptions {
  /** Where the schema sits in the request, for error messages (`response_format.json_schema.schema`). */
  field: string;
  /** Nesting limit of the schema document itself. */
  maxDepth?: number;
}

/**
 * Compiles a schema or throws INVALID_ARGUMENT whose `field` is the JSON path of the offending
 * keyword (`response_format.json_schema.schema.properties.age.minimum`) and whose message names it.
 */
export function compileSchema(schema: unknown, o: CompileOptions): SchemaNode {
  const root = schema;
  const maxDepth = o.maxDepth ?? 64;
  const refs = new Map<string, SchemaNode>();

  const compile = (s: unknown, path: string, depth: number): SchemaNode => {
    if (depth > maxDepth) throw invalidArgument(path, `schema nested deeper than ${maxDepth} levels`, `schema depth <= ${maxDepth}`);
    if (s === true) return ANY;
    if (s === false) return NEVER;
    if (s === null || typeof s !== 'object' || Array.isArray(s)) throw invalidArgument(path, 'a JSON schema must be an object or a boolean');
    const obj = s as Record<string, unknown>;
    for (const k of Object.keys(obj)) {
      if (ANNOTATIONS.has(k) || STRUCTURAL.has(k) || k === 'enum' || k === 'const' || k === 'anyOf' || k === '$ref') continue;
      throw invalidArgument(`${path}.${k}`, `JSON schema keyword "${k}" is not supported by constrained decoding (supported: type, properties, required, additionalProperties, items, minItems, maxItems, enum, const, anyOf, $ref to $defs/definitions)`);
    }
    const structural = Object.keys(obj).filter((k) => STRUCTURAL.has(k) && k !== 'type');
    if (obj.$ref !== undefined) {
      const other = Object.keys(obj).find((k) => k !== '$ref' && !ANNOTATIONS.has(k));
      if (other) throw invalidArgument(`${path}.${other}`, `JSON schema keyword "${other}" next to "$ref" is not supported`);
      return ref(obj.$ref, `${path}.$ref`);
    }
    if (obj.anyOf !== undefined) {
      const other = Object.keys(obj).find((k) => k !== 'anyOf' && !ANNOTATIONS.has(k));
      if (other) throw invalidArgument(`${path}.${other}`, `JSON schema keyword "${other}" next to "anyOf" is not supported; move it into each alternative`);
      if (!Array.isArray(obj.anyOf) || obj.anyOf.length === 0) throw invalidArgument(`${path}.anyOf`, 'anyOf must be a non-empty array of schemas');
      return { kind: 'anyOf', options: obj.anyOf.map((x, i) => compile(x, `${path}.anyOf[${i}]`, depth + 1)) };
    }
    const types = parseTypes(obj.type, `${path}.type`);
    if (obj.enum !== undefined || obj.const !== undefined) {
      if (structural.length > 0) throw invalidArgument(`${path}.${structural[0]}`, `JSON schema keyword "${structural[0]}" next to enum/const is not supported`);
      if (obj.enum !== undefined && obj.const !== undefined) throw invalidArgument(`${path}.const`, '"const" next to "enum" is not supported');
      let values: unknown[];
      if (obj.const !== undefined) values = [obj.const];
      else if (Array.isArray(obj.enum)) values = obj.enum;
      else throw invalidArgument(`${path}.enum`, 'enum must be an array');
      const kept = values.filter((v) => !types || types.has(typeOfValue(v)) || (typeOfValue(v) === 'integer' && types.has('number')));
      return kept.length === 0 ? NEVER : { kind: 'literals', values: [...new Set(kept.map((v) => JSON.stringify(v)))] };
    }
    const object: ObjectSpec = parseObject(obj, path, depth);
    const array: ArraySpec = parseArray(obj, path, depth);
    return { kind: 'typed', types: types ?? new Set(TYPES as ReadonlySet<JsonType>), object, array };
  };

  const parseObject = (obj: Record<string, unknown>, path: string, depth: number): ObjectSpec => {
    const properties = new Map<string, SchemaNode>();
    if (obj.properties !== undefined) {
      if (obj.properties === null || typeof obj.properties !== 'object' || Array.isArray(obj.properties)) throw invalidArgument(`${path}.properties`, 'properties must be an object of schemas');
      for (const [k, v] of Object.entries(obj.properties)) properties.set(escapeKey(k), compile(v, `${path}.properties.${k}`, depth + 1));
    }
    const required = new Set<string>();
    if (obj.required !== undefined) {
      if (!Array.isArray(obj.required) || obj.required.some((r) => typeof r !== 'string')) throw invalidArgument(`${path}.required`, 'required must be an array of property names');
      for (const r of obj.required as string[]) required.add(escapeKey(r));
    }
    const additional = obj.additionalProperties === undefined ? ANY : compile(obj.additionalProperties, `${path}.additionalProperties`, depth + 1);
    for (const r of required) {
      if (!properties.has(r) && additional.kind === 'never') throw invalidArgument(`${path}.required`, `required property "${r}" is not declared while additionalProperties is false, so no object can satisfy the schema`);
    }
    return { properties, required, additional: additional.kind === 'never' ? false : additional };
  };

  const parseArray = (obj: Record<string, unknown>, path: string, depth: number): ArraySpec => {
    if (Array.isArray(obj.items)) throw invalidArgument(`${path}.items`, 'tuple-form "items" (an array of schemas) is not supported');
    const items = obj.items === undefined ? ANY : compile(obj.items, `${path}.items`, depth + 1);
    const minItems = count(obj.minItems, `${path}.minItems`, 0);
    const maxItems = count(obj.maxItems, `${path}.maxItems`, Number.MAX_SAFE_INTEGER);
    return { items, minItems, maxItems };
  };

  const ref = (raw: unknown, path: string): SchemaNode => {
    if (typeof raw !== 'string') throw invalidArgument(path, '$ref must be a string');
    const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(raw) ?? (raw === '#' ? ['#', '', ''] : null);
    if (!m) throw invalidArgument(path, `$ref "${raw}" is not supported; only "#", "#/$defs/<name>" and "#/definitions/<name>"`);
    let node = refs.get(raw);
    if (!node) {
      const target = raw === '#' ? root : ((root as Record<string, Record<string, unknown> | undefined>)?.[m[1]!] ?? {})[decodeURIComponent(m[2]!).replace(/~1/g, '/').replace(/~0/g, '~')];
      if (target === undefined) throw invalidArgument(path, `$ref "${raw}" points to nothing`);
      let compiled: SchemaNode | undefined;
      node = { kind: 'ref', resolve: () => compiled! };
      refs.set(raw, node);
      compiled = compile(target, raw === '#' ? o.field : `${o.field}.${m[1]}.${m[2]}`, 1);
    }
    return node;
  };

  return compile(schema, o.field, 0);
}

function parseTypes(raw: unknown, path: string): Set<JsonType> | undefined {
  if (raw === undefined) return undefined;
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw invalidArgument(path, 'type must not be an empty list');
  for (const t of list) if (typeof t !== 'string' || !TYPES.has(t)) throw invalidArgument(path, `unknown type ${JSON.stringify(t)}; expected one of ${[...TYPES].join(', ')}`);
  const s = new Set(list as JsonType[]);
  if (s.has('number')) s.delete('integer');
  return s;
}

function count(raw: unknown, path: string, dflt: number): number {
  if (raw === undefined) return dflt;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0) throw invalidArgument(path, 'must be a non-negative integer');
  return raw;
}

/** A key as it appears between the quotes of compact JSON. */
function escapeKey(k: string): string {
  return JSON.stringify(k).slice(1, -1);
}

function typeOfValue(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonType;
}

/** The schema `json_object` means: any JSON object. */
export const JSON_OBJECT_SCHEMA = { type: 'object' } as const;
