/**
 * Locale-independent case folding for matching (document filters, BM25 tokens, hashed features).
 * NFKC first (full-width Ｔｏｋｙｏ → Tokyo, half-width katakana → full-width), then the four Turkish
 * i's (İ I ı i) fold to "i": text in Turkish and queries typed on a non-Turkish keyboard (or the
 * reverse) still match, and "İstanbul".toLowerCase() no longer yields "i̇" with a combining dot.
 */
export function foldCase(text: string): string {
  return text.normalize('NFKC').replace(/[İIı]/g, 'i').toLowerCase();
}
