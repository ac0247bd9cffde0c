/**
 * Python 3 number semantics the MiniCPM-V slicing arithmetic depends on (minicpmv.md §2.3).
 *
 * - `pyRound`: Python's round() rounds exact .5 ties to the EVEN integer (35/14 = 2.5 → 2);
 *   JS Math.round would give 3 and move an overview side by 14 px.
 * - `pyInt`: Python int() on a float truncates toward zero (Math.trunc, not floor/round).
 * - `pyLog`: CPython's math.log is glibc's log, which is correctly rounded for every argument the
 *   grid score can take; V8's Math.log is not (Math.log(3) is 1 ulp low), which flips exact grid
 *   ties when max_slice_nums > 9 (2124×1062 @16). We compute ln to ~160 bits with BigInt and round
 *   once to the nearest double.
 */

/** Python 3 round(x) for a finite double: nearest integer, ties to even. */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const diff = x - f; // exact for |x| < 2^52
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Python int(x) for a finite double: truncation toward zero. */
export function pyInt(x: number): number {
  return Math.trunc(x);
}

const PREC = 160n;

/** atanh(num/den) in fixed point with PREC fraction bits, for 0 <= num/den <= 1/3. */
function atanhFixed(num: bigint, den: bigint): bigint {
  const z = (num << PREC) / den;
  const z2 = (z * z) >> PREC;
  let term = z;
  let sum = 0n;
  for (let k = 1n; term !== 0n; k += 2n) {
    sum += term / k;
    term = (term * z2) >> PREC;
  }
  return sum;
}

const LN2_FIXED = 2n * atanhFixed(1n, 3n);
const SCALE = 2 ** Number(PREC);
const view = new DataView(new ArrayBuffer(8));
const cache = new Map<number, number>();

/** Correctly rounded natural logarithm (equals glibc log, hence CPython math.log on Linux). */
export function pyLog(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return Math.log(x);
  if (x === 1) return 0;
  const hit = cache.get(x);
  if (hit !== undefined) return hit;
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  let biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased === 0) {
    // subnormal: normalise so the implicit bit is set
    biased = 1;
    while ((mant & (1n << 52n)) === 0n) {
      mant <<= 1n;
      biased -= 1;
    }
  } else {
    mant |= 1n << 52n;
  }
  // x = (mant / 2^52) * 2^e with mant/2^52 in [1, 2)
  const e = biased - 1023;
  const base = 1n << 52n;
  const lnM = 2n * atanhFixed(mant - base, mant + base);
  const total = lnM + BigInt(e) * LN2_FIXED;
  // Number(bigint) rounds to nearest (ties to even); dividing by 2^160 is exact.
  const out = Number(total) / SCALE;
  if (cache.size < 4096) cache.set(x, out);
  return out;
}
