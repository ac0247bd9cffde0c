import { expect } from 'vitest';

/**
 * Largest |a[i] − b[i]| of two equally long arrays (asserted: a length mismatch is a failed test, not a
 * comparison of a prefix) — how every numerics test in the repo states "within ε of the reference".
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
