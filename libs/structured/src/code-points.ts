/**
 * Lengths and offsets in Unicode code points (what Python's len() counts and what the API
 * promises), not UTF-16 units: an emoji or a CJK Extension B character counts once. The one copy
 * for the services (retrieval's splitter and limits, feedback's span offsets and limits); the
 * browser playground keeps its own two lines (libs/web/app is bundled separately).
 */
export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** UTF-16 index of the code point at `cp` (clamped to the string's end). */
export function utf16Index(s: string, cp: number): number {
  let i = 0;
  let n = 0;
  while (i < s.length && n < cp) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
    n++;
  }
  return i;
}

/** Code-point index of UTF-16 index `u`. */
export function codePointIndex(s: string, u: number): number {
  return codePointLength(s.slice(0, u));
}
