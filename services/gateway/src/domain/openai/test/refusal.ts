import { expect } from 'vitest';
import { TesseraError } from '@tessera/runtime';

/** The INVALID_ARGUMENT `run` throws (the validators' 400): its field, limit and message; anything else fails the test. */
export function refusalOf(run: () => unknown): { field: string | undefined; limit: string | undefined; message: string } {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraError);
    const e = err as TesseraError;
    expect(e.code).toBe('INVALID_ARGUMENT');
    return { field: e.details.field as string | undefined, limit: e.details.limit as string | undefined, message: e.message };
  }
  throw new Error('expected a 400');
}
