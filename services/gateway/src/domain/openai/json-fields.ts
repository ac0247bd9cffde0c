/**
 * Reading one JSON field of an OpenAI request body: its type and range, or an INVALID_ARGUMENT that
 * names the field (as a JSON path) and the allowed range. Shared by every request validator, so the
 * same mistake gets the same message on every endpoint.
 */
import { invalidArgument } from '@tessera/runtime';

export function asObject(raw: unknown, field: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidArgument(field, `${field} must be a JSON object`);
  return raw as Record<string, unknown>;
}

export function str(raw: unknown, field: string, allowEmpty = false): string {
  if (typeof raw !== 'string') throw invalidArgument(field, `${field} must be a string`);
  if (!allowEmpty && raw.length === 0) throw invalidArgument(field, `${field} must not be empty`);
  return raw;
}

export function optBool(raw: unknown, field: string): boolean | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'boolean') throw invalidArgument(field, `${field} must be a boolean`);
  return raw;
}

export function int(raw: unknown, field: string, min: number, max: number): number {
  if (typeof raw !== 'number' || !Number.isInteger(raw)) throw invalidArgument(field, `${field} must be an integer`);
  const lim = `${min} <= ${field} <= ${max}`;
  if (raw < min || raw > max) throw invalidArgument(field, `${field} is ${raw}; allowed: ${lim}`, lim);
  return raw;
}

export function num(raw: unknown, field: string, fallback: number, range: { min: number; max: number; minExclusive?: boolean }): number {
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw !== 'number' || !Number.isFinite(raw)) throw invalidArgument(field, `${field} must be a number`);
  const low = range.minExclusive ? raw <= range.min : raw < range.min;
  if (low || raw > range.max) {
    const lim = `${range.min} ${range.minExclusive ? '<' : '<='} ${field} <= ${range.max}`;
    throw invalidArgument(field, `${field} is ${raw}; allowed: ${lim}`, lim);
  }
  return raw;
}
