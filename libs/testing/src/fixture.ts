/** A fixture's value, or an error saying it was read before its beforeAll ran (at collection time). */
export function fixtureValue<T>(fixture: string, what: string, v: T | undefined): T {
  if (v === undefined) throw new Error(`${fixture}: ${what} is used before beforeAll ran`);
  return v;
}
