/**
 * Split options as the API speaks them, resolved to a splitter. Strategies:
 * - recursive: LangChain semantics over `separators` (default: the multilingual list);
 * - sentence: Intl.Segmenter sentences packed up to chunkSize (words, then characters, for
 *   over-long sentences);
 * - none: one chunk per document (longer than chunkSize → INVALID_ARGUMENT).
 */
import { invalidArgument } from '@tessera/runtime';
import { codePointLength } from '../text/code-points.js';
import { RecursiveSplitter, type Chunk, type KeepSeparator } from './recursive-splitter.js';
import { MULTILINGUAL_SEPARATORS, type Separator } from './separators.js';

export type SplitStrategy = 'recursive' | 'sentence' | 'none';

export interface SplitSpec {
  strategy?: SplitStrategy;
  chunkSize?: number;
  chunkOverlap?: number;
  /** Empty/absent = MULTILINGUAL_SEPARATORS (recursive). Pass DEFAULT_SEPARATORS for LangChain's. */
  separators?: readonly Separator[];
  keepSeparator?: KeepSeparator;
  locale?: string;
  /** Token-length mode: chunk sizes count tokens of this tokenizer instead of code points. */
  countTokens?: (text: string) => number;
}

export interface SplitLimits {
  minChunkSize: number;
  maxChunkSize: number;
}

export const DEFAULT_SPLIT_LIMITS: SplitLimits = { minChunkSize: 16, maxChunkSize: 8192 };

export function makeSplitter(spec: SplitSpec, limits: SplitLimits = DEFAULT_SPLIT_LIMITS): (text: string) => Chunk[] {
  const chunkSize = spec.chunkSize ?? 1000;
  const chunkOverlap = spec.chunkOverlap ?? Math.min(200, Math.floor(chunkSize / 5));
  if (!Number.isInteger(chunkSize) || chunkSize < limits.minChunkSize || chunkSize > limits.maxChunkSize) {
    throw invalidArgument('split.chunk_size', `chunk_size ${chunkSize} is out of range ${limits.minChunkSize}..${limits.maxChunkSize}`, `${limits.minChunkSize} <= chunk_size <= ${limits.maxChunkSize}`);
  }
  const len = spec.countTokens ?? codePointLength;
  const strategy = spec.strategy ?? 'recursive';
  if (strategy === 'none') {
    return (text) => {
      const n = len(text);
      if (n > chunkSize) throw invalidArgument('split.strategy', `document of length ${n} does not fit one chunk with strategy none`, `length <= chunk_size ${chunkSize}`);
      return [{ text, start: 0, end: codePointLength(text) }];
    };
  }
  const sentence = strategy === 'sentence';
  const custom = spec.separators && spec.separators.length > 0;
  const separators: readonly Separator[] = sentence
    ? [{ segmenter: 'sentence' }, { segmenter: 'word' }, '']
    : custom ? spec.separators! : MULTILINGUAL_SEPARATORS;
  // Punctuation closes a clause, so the multilingual list keeps separators at the end; custom
  // lists follow LangChain's default ("start").
  const keepSeparator = spec.keepSeparator ?? (custom ? true : 'end');
  const splitter = new RecursiveSplitter({ chunkSize, chunkOverlap, separators, keepSeparator, locale: spec.locale, lengthFunction: len });
  return (text) => splitter.split(text);
}

export type { Chunk };
