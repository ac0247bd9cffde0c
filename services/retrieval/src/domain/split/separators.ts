/**
 * Separators for the recursive splitter. A separator is a literal string (LangChain semantics:
 * escaped into a regex unless `isSeparatorRegex`), or an `Intl.Segmenter` granularity, which cuts
 * at sentence or word boundaries — the only way to cut Chinese or Japanese text, which has no
 * spaces, into meaningful pieces instead of character windows.
 */
export type Separator = string | { segmenter: 'sentence' | 'word' };

/** LangChain's RecursiveCharacterTextSplitter default. */
export const DEFAULT_SEPARATORS: readonly Separator[] = Object.freeze(['\n\n', '\n', ' ', '']);

/**
 * The service default: paragraphs and lines first, then sentence boundaries (Intl.Segmenter
 * handles 。！？ and Latin punctuation alike), then CJK clause punctuation (、，；), then spaces,
 * then word boundaries (dictionary-based for zh/ja in ICU), characters last.
 * Used with keepSeparator "end" so punctuation stays with the clause it closes.
 */
export const MULTILINGUAL_SEPARATORS: readonly Separator[] = Object.freeze([
  '\n\n',
  '\n',
  { segmenter: 'sentence' } as const,
  '；',
  '，',
  '、',
  ' ',
  { segmenter: 'word' } as const,
  '',
]);

export function separatorLabel(s: Separator): string {
  return typeof s === 'string' ? JSON.stringify(s) : `<${s.segmenter}>`;
}
