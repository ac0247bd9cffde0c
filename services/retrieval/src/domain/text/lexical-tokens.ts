/**
 * Word tokens for keyword search: Intl.Segmenter word boundaries (ICU dictionaries segment
 * Chinese and Japanese, e.g. 我们|在|北京|大学), case-folded, punctuation dropped. The same function
 * tokenizes documents and queries, so the full-text index only ever sees space-joined tokens.
 */
import { foldCase } from './fold.js';

const segmenters = new Map<string, Intl.Segmenter>();

function segmenter(locale: string): Intl.Segmenter {
  let s = segmenters.get(locale);
  if (!s) {
    s = new Intl.Segmenter(locale, { granularity: 'word' });
    segmenters.set(locale, s);
  }
  return s;
}

export function lexicalTokens(text: string, locale = 'und'): string[] {
  const out: string[] = [];
  for (const seg of segmenter(locale).segment(foldCase(text))) {
    if (seg.isWordLike) out.push(seg.segment);
  }
  return out;
}
