import { invalidArgument } from '@tessera/runtime';
import { codePointLength } from './offsets.js';

/** Small field checks shared by the validators; each error names the field and the limit. */

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/;
/** Any printable text without whitespace (events.ts encodes it into a NATS subject token). */
export const TENANT_PATTERN = /^[^\s\p{Cc}]{1,128}$/u;

export function checkTenant(tenant: string | undefined): string {
  if (!tenant) throw invalidArgument('tenant', 'tenant is required (tessera-tenant header)');
  if (!TENANT_PATTERN.test(tenant)) throw invalidArgument('tenant', `tenant ${JSON.stringify(tenant)} must be 1..128 characters without whitespace or control characters`, '1..128 printable characters');
  return tenant;
}

export function checkId(field: string, value: string | undefined, maxLength: number): string {
  if (!value) throw invalidArgument(field, `${field} is required`);
  if (value.length > maxLength) throw invalidArgument(field, `${field} is ${value.length} characters long: the limit is ${maxLength}`, `length <= ${maxLength}`);
  if (!ID_PATTERN.test(value)) throw invalidArgument(field, `${field} "${value}" must match ${ID_PATTERN}`, String(ID_PATTERN));
  return value;
}

export function checkText(field: string, value: string | undefined, maxChars: number, opts: { required?: boolean } = {}): string {
  const v = value ?? '';
  if (opts.required && v.length === 0) throw invalidArgument(field, `${field} is required and must not be empty`);
  // PostgreSQL text and jsonb cannot hold U+0000; refusing it here keeps the log replayable into either store.
  if (v.includes('\u0000')) throw invalidArgument(field, `${field} contains U+0000 (NUL), which is not allowed`);
  // Cheap pre-check on UTF-16 length: code points ≤ UTF-16 units, so only long strings are counted.
  if (v.length > maxChars) {
    const n = codePointLength(v);
    if (n > maxChars) throw invalidArgument(field, `${field} has ${n} code points: the limit is ${maxChars}`, `<= ${maxChars} code points`);
  }
  return v;
}

export function checkFinite(field: string, value: number | undefined, range?: { min?: number; max?: number }): number {
  if (value === undefined || value === null || !Number.isFinite(value)) throw invalidArgument(field, `${field} must be a finite number`);
  if (range?.min !== undefined && value < range.min) throw invalidArgument(field, `${field} = ${value} is below ${range.min}`, `>= ${range.min}`);
  if (range?.max !== undefined && value > range.max) throw invalidArgument(field, `${field} = ${value} is above ${range.max}`, `<= ${range.max}`);
  return value;
}

export function checkInt(field: string, value: number | undefined, range: { min: number; max: number }): number {
  const v = checkFinite(field, value, range);
  if (!Number.isInteger(v)) throw invalidArgument(field, `${field} = ${v} must be an integer`, `integer ${range.min}..${range.max}`);
  return v;
}

export function checkCount(field: string, n: number, max: number): void {
  if (n > max) throw invalidArgument(field, `${field} has ${n} entries: the limit is ${max}`, `<= ${max} entries`);
}

/** Free-form JSON (metadata, sampling): no U+0000 anywhere, for the same reason as checkText. */
export function checkJson(field: string, value: unknown, maxBytes: number): void {
  const json = JSON.stringify(value ?? {});
  if (json.includes('\\u0000')) throw invalidArgument(field, `${field} contains U+0000 (NUL), which is not allowed`);
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) throw invalidArgument(field, `${field} is ${bytes} bytes as JSON: the limit is ${maxBytes}`, `<= ${maxBytes} bytes`);
}
