import { formatBytes, formatDuration, parseBool, parseBytes, parseDuration } from './parse.js';

/**
 * One configuration field: the environment variable it reads, how to parse and check it, and
 * a one-line description for READMEs and `--help`. `parse` throws a plain string message that
 * `loadConfig` attaches to the variable name.
 */
export interface Field<T> {
  readonly env: string;
  readonly kind: string;
  readonly doc: string;
  /** Text form of the default, for documentation; undefined when the field is required or optional. */
  readonly defaultText: string | undefined;
  readonly required: boolean;
  /** `raw` is undefined or empty when the variable is unset. */
  resolve(raw: string | undefined): T;
}

interface Common {
  /** Environment variable name, e.g. `TESSERA_GRPC_PORT`. */
  env: string;
  doc?: string;
}
type WithDefault<T> = Common & { default: T };
type Optional = Common & { optional: true };
type Required = Common;

class FieldError extends Error {}

function make<T>(
  kind: string,
  opts: Common & { default?: unknown; optional?: boolean },
  parse: (text: string) => T,
  show: (v: T) => string = String,
): Field<T> {
  const hasDefault = opts.default !== undefined;
  const optional = opts.optional === true;
  // Validate the default through the same checks, so a bad default fails at import time, not in prod.
  if (hasDefault) parse(show(opts.default as T));
  return {
    env: opts.env,
    kind,
    doc: opts.doc ?? '',
    defaultText: hasDefault ? show(opts.default as T) : undefined,
    required: !hasDefault && !optional,
    resolve(raw) {
      if (raw === undefined || raw.trim() === '') {
        if (hasDefault) return opts.default as T;
        if (optional) return undefined as T;
        throw new FieldError(`is required (${kind})`);
      }
      return parse(raw);
    },
  };
}

function range(min: number | undefined, max: number | undefined, show: (n: number) => string = String): string {
  if (min !== undefined && max !== undefined) return `${show(min)}..${show(max)}`;
  if (min !== undefined) return `>= ${show(min)}`;
  if (max !== undefined) return `<= ${show(max)}`;
  return 'any';
}

function checkRange(v: number, text: string, min: number | undefined, max: number | undefined, what: string, show: (n: number) => string = String): number {
  if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
    throw new FieldError(`= ${JSON.stringify(text)} is out of range: ${what} must be ${range(min, max, show)}`);
  }
  return v;
}

type NumOpts = { min?: number; max?: number };

export function int(o: WithDefault<number> & NumOpts): Field<number>;
export function int(o: Optional & NumOpts): Field<number | undefined>;
export function int(o: Required & NumOpts): Field<number>;
export function int(o: Common & NumOpts & { default?: number; optional?: boolean }): Field<number | undefined> {
  return make('integer ' + range(o.min, o.max), o, (text) => {
    const t = text.trim();
    if (!/^[-+]?\d+$/.test(t)) throw new FieldError(`= ${JSON.stringify(text)} is not an integer (allowed ${range(o.min, o.max)})`);
    return checkRange(Number(t), text, o.min, o.max, 'an integer');
  });
}

export function number(o: WithDefault<number> & NumOpts): Field<number>;
export function number(o: Optional & NumOpts): Field<number | undefined>;
export function number(o: Required & NumOpts): Field<number>;
export function number(o: Common & NumOpts & { default?: number; optional?: boolean }): Field<number | undefined> {
  return make('number ' + range(o.min, o.max), o, (text) => {
    const v = Number(text.trim());
    if (!Number.isFinite(v)) throw new FieldError(`= ${JSON.stringify(text)} is not a number (allowed ${range(o.min, o.max)})`);
    return checkRange(v, text, o.min, o.max, 'a number');
  });
}

export function bool(o: WithDefault<boolean>): Field<boolean>;
export function bool(o: Optional): Field<boolean | undefined>;
export function bool(o: Required): Field<boolean>;
export function bool(o: Common & { default?: boolean; optional?: boolean }): Field<boolean | undefined> {
  return make('boolean', o, (text) => {
    const v = parseBool(text);
    if (v === undefined) throw new FieldError(`= ${JSON.stringify(text)} is not a boolean (use true/false, 1/0, yes/no, on/off)`);
    return v;
  });
}

type StrOpts = { minLength?: number; maxLength?: number; pattern?: RegExp };

export function string(o: WithDefault<string> & StrOpts): Field<string>;
export function string(o: Optional & StrOpts): Field<string | undefined>;
export function string(o: Required & StrOpts): Field<string>;
export function string(o: Common & StrOpts & { default?: string; optional?: boolean }): Field<string | undefined> {
  return make('string', o, (text) => {
    if (o.minLength !== undefined && text.length < o.minLength) throw new FieldError(`is too short: length must be >= ${o.minLength}`);
    if (o.maxLength !== undefined && text.length > o.maxLength) throw new FieldError(`is too long: length must be <= ${o.maxLength}`);
    if (o.pattern && !o.pattern.test(text)) throw new FieldError(`= ${JSON.stringify(text)} does not match ${o.pattern}`);
    return text;
  });
}

export function oneOf<const V extends string>(values: readonly V[], o: WithDefault<V>): Field<V>;
export function oneOf<const V extends string>(values: readonly V[], o: Optional): Field<V | undefined>;
export function oneOf<const V extends string>(values: readonly V[], o: Required): Field<V>;
export function oneOf<const V extends string>(values: readonly V[], o: Common & { default?: V; optional?: boolean }): Field<V | undefined> {
  return make(`one of ${values.join('|')}`, o, (text) => {
    const t = text.trim();
    if (!(values as readonly string[]).includes(t)) throw new FieldError(`= ${JSON.stringify(text)} is not allowed: must be one of ${values.join(', ')}`);
    return t as V;
  });
}

type UrlOpts = { protocols?: readonly string[] };

/** A URL kept as its string form (so `nats://a:4222,nats://b:4222` lists can use `urlList`). */
export function url(o: WithDefault<string> & UrlOpts): Field<string>;
export function url(o: Optional & UrlOpts): Field<string | undefined>;
export function url(o: Required & UrlOpts): Field<string>;
export function url(o: Common & UrlOpts & { default?: string; optional?: boolean }): Field<string | undefined> {
  const kind = o.protocols ? `url (${o.protocols.join(', ')})` : 'url';
  return make(kind, o, (text) => checkUrl(text.trim(), o.protocols));
}

function checkUrl(text: string, protocols: readonly string[] | undefined): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new FieldError(`= ${JSON.stringify(text)} is not a valid URL`);
  }
  const proto = u.protocol.replace(/:$/, '');
  if (protocols && !protocols.includes(proto)) throw new FieldError(`= ${JSON.stringify(text)} has protocol ${proto}: must be one of ${protocols.join(', ')}`);
  return text;
}

/** Comma-separated URLs (NATS cluster seed lists). */
export function urlList(o: WithDefault<readonly string[]> & UrlOpts): Field<readonly string[]> {
  return make('comma-separated urls', o, (text) =>
    Object.freeze(
      text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0)
        .map((s) => checkUrl(s, o.protocols)),
    ),
    (v) => v.join(','),
  );
}

/** Milliseconds, written as `250ms`, `30s`, `5m`, `1h` or a bare number of ms. */
export function duration(o: WithDefault<number> & NumOpts): Field<number>;
export function duration(o: Optional & NumOpts): Field<number | undefined>;
export function duration(o: Required & NumOpts): Field<number>;
export function duration(o: Common & NumOpts & { default?: number; optional?: boolean }): Field<number | undefined> {
  return make(
    'duration ' + range(o.min, o.max, formatDuration),
    o,
    (text) => {
      const v = parseDuration(text);
      if (v === undefined) throw new FieldError(`= ${JSON.stringify(text)} is not a duration (e.g. 250ms, 30s, 5m; allowed ${range(o.min, o.max, formatDuration)})`);
      return checkRange(v, text, o.min, o.max, 'a duration', formatDuration);
    },
    formatDuration,
  );
}

/** Bytes, written as `512KiB`, `1MiB`, `1MB`, or a bare number of bytes. */
export function bytes(o: WithDefault<number> & NumOpts): Field<number>;
export function bytes(o: Optional & NumOpts): Field<number | undefined>;
export function bytes(o: Required & NumOpts): Field<number>;
export function bytes(o: Common & NumOpts & { default?: number; optional?: boolean }): Field<number | undefined> {
  return make(
    'byte size ' + range(o.min, o.max, formatBytes),
    o,
    (text) => {
      const v = parseBytes(text);
      if (v === undefined) throw new FieldError(`= ${JSON.stringify(text)} is not a byte size (e.g. 512KiB, 1MiB; allowed ${range(o.min, o.max, formatBytes)})`);
      return checkRange(v, text, o.min, o.max, 'a byte size', formatBytes);
    },
    formatBytes,
  );
}

export { FieldError };
