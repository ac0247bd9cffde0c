import { FieldError, type Field } from './fields.js';

/** A service's configuration schema: property name → field (each field names its env variable). */
export type Schema = Readonly<Record<string, Field<unknown>>>;
export type ConfigOf<S extends Schema> = { readonly [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export interface ConfigIssue {
  /** The environment variable at fault. */
  readonly env: string;
  readonly message: string;
}

/**
 * Every problem in one throw, so an operator fixes the whole deployment in one round.
 * (Not a TesseraError: @tessera/runtime depends on this package, not the other way.)
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.env} ${i.message}`).join('\n')}`);
  }
}

/** Reads `env` (default `process.env`) through `schema` into one frozen, typed object. */
export function loadConfig<S extends Schema>(schema: S, env: Readonly<Record<string, string | undefined>> = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  for (const [key, field] of Object.entries(schema)) {
    try {
      out[key] = field.resolve(env[field.env]);
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      issues.push({ env: field.env, message: err.message });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return Object.freeze(out) as ConfigOf<S>;
}

/** A Markdown table of the schema (env, kind, default, description) for READMEs. */
export function describeConfig(schema: Schema): string {
  const rows = Object.values(schema).map(
    (f) => `| \`${f.env}\` | ${f.kind.replaceAll('|', '\\|')} | ${f.required ? '**required**' : f.defaultText === undefined ? '(unset)' : `\`${f.defaultText}\``} | ${f.doc} |`,
  );
  return ['| variable | type | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
