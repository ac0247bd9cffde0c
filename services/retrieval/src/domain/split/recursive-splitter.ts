/**
 * Recursive character text splitting with LangChain's semantics (langchain_text_splitters
 * `RecursiveCharacterTextSplitter` + `TextSplitter._merge_splits`), reproduced step by step:
 * 1. pick the first separator that occurs in the text ("" always matches);
 * 2. split on it, keeping the separator at the start (default) or end of each piece, or dropping it;
 * 3. pieces shorter than chunkSize are collected, longer ones are split again with the remaining
 *    separators (or kept whole when none remain);
 * 4. collected pieces are merged into chunks of at most chunkSize, consecutive chunks sharing up to
 *    chunkOverlap of trailing pieces.
 * Lengths come from `lengthFunction` (code points by default, or tokens). Differences from
 * LangChain: separators may also be Intl.Segmenter boundaries, and lengths count code points
 * where JS would count UTF-16 units.
 */
import { invalidArgument } from '@tessera/runtime';
import { codePointIndex, codePointLength, utf16Index } from '../text/code-points.js';
import { DEFAULT_SEPARATORS, type Separator } from './separators.js';

export type KeepSeparator = boolean | 'start' | 'end';

export interface SplitterOptions {
  chunkSize?: number;
  chunkOverlap?: number;
  separators?: readonly Separator[];
  /** true = 'start' (LangChain's default for the recursive splitter). */
  keepSeparator?: KeepSeparator;
  isSeparatorRegex?: boolean;
  stripWhitespace?: boolean;
  /** Length of a piece; default code points. Pass a tokenizer's count for token-length mode. */
  lengthFunction?: (text: string) => number;
  /** Locale for Intl.Segmenter separators ("und" = ICU root rules, which handle zh/ja/tr). */
  locale?: string;
}

export interface Chunk {
  text: string;
  /** Code-point offset of the chunk in the source text (LangChain's `start_index`). */
  start: number;
  /** Code-point offset just past the chunk. */
  end: number;
}

export class RecursiveSplitter {
  readonly chunkSize: number;
  readonly chunkOverlap: number;
  private readonly separators: readonly Separator[];
  private readonly keep: false | 'start' | 'end';
  private readonly isRegex: boolean;
  private readonly strip: boolean;
  private readonly len: (text: string) => number;
  private readonly locale: string;

  constructor(opts: SplitterOptions = {}) {
    this.chunkSize = opts.chunkSize ?? 4000;
    this.chunkOverlap = opts.chunkOverlap ?? 200;
    if (!Number.isInteger(this.chunkSize) || this.chunkSize <= 0) {
      throw invalidArgument('split.chunk_size', `chunk_size must be a positive integer, got ${this.chunkSize}`, 'chunk_size >= 1');
    }
    if (!Number.isInteger(this.chunkOverlap) || this.chunkOverlap < 0 || this.chunkOverlap >= this.chunkSize) {
      throw invalidArgument('split.chunk_overlap', `chunk_overlap ${this.chunkOverlap} must be >= 0 and < chunk_size ${this.chunkSize}`, `0 <= chunk_overlap < ${this.chunkSize}`);
    }
    this.separators = opts.separators && opts.separators.length > 0 ? opts.separators : DEFAULT_SEPARATORS;
    const k = opts.keepSeparator ?? true;
    this.keep = k === true ? 'start' : k === false ? false : k;
    this.isRegex = opts.isSeparatorRegex ?? false;
    this.strip = opts.stripWhitespace ?? true;
    this.len = opts.lengthFunction ?? codePointLength;
    this.locale = opts.locale || 'und';
  }

  splitText(text: string): string[] {
    return this.splitRecursive(text, this.separators);
  }

  /** Chunks with start offsets found the way LangChain's `add_start_index` does. */
  split(text: string): Chunk[] {
    const out: Chunk[] = [];
    let index = 0;
    let previousLen = 0;
    for (const chunk of this.splitText(text)) {
      // LangChain: search from (previous start + previous length - overlap), never before 0, so
      // a repeated chunk maps to its own occurrence rather than the first one.
      const from = Math.max(0, index + previousLen - this.chunkOverlap);
      const u = text.indexOf(chunk, utf16Index(text, from));
      index = u < 0 ? from : codePointIndex(text, u);
      previousLen = codePointLength(chunk);
      out.push({ text: chunk, start: index, end: index + previousLen });
    }
    return out;
  }

  private splitRecursive(text: string, separators: readonly Separator[]): string[] {
    const finalChunks: string[] = [];
    let separator: Separator = separators[separators.length - 1]!;
    let rest: readonly Separator[] = [];
    for (let i = 0; i < separators.length; i++) {
      const s = separators[i]!;
      if (s === '') {
        separator = s;
        break;
      }
      if (this.occursIn(s, text)) {
        separator = s;
        rest = separators.slice(i + 1);
        break;
      }
    }
    const splits = this.splitOn(text, separator);
    // LangChain merges with "" when separators are kept (they are already inside the pieces).
    const joiner = this.keep || typeof separator !== 'string' ? '' : this.isRegex ? '' : separator;
    let good: string[] = [];
    for (const s of splits) {
      if (this.len(s) < this.chunkSize) {
        good.push(s);
        continue;
      }
      if (good.length > 0) {
        finalChunks.push(...this.mergeSplits(good, joiner));
        good = [];
      }
      if (rest.length === 0) finalChunks.push(s);
      else finalChunks.push(...this.splitRecursive(s, rest));
    }
    if (good.length > 0) finalChunks.push(...this.mergeSplits(good, joiner));
    return finalChunks;
  }

  private occursIn(s: Separator, text: string): boolean {
    if (typeof s !== 'string') return this.segment(text, s.segmenter).length > 1;
    return this.isRegex ? new RegExp(s, 'u').test(text) : text.includes(s);
  }

  private segment(text: string, granularity: 'sentence' | 'word'): string[] {
    const seg = new Intl.Segmenter(this.locale, { granularity });
    return Array.from(seg.segment(text), (x) => x.segment);
  }

  /** `_split_text_with_regex`: split, re-attach the separator, drop empty pieces. */
  private splitOn(text: string, separator: Separator): string[] {
    let splits: string[];
    if (typeof separator !== 'string') {
      // Segment boundaries carry no separator text: every piece already ends where the next begins.
      splits = this.segment(text, separator.segmenter);
    } else if (separator === '') {
      splits = Array.from(text);
    } else {
      const pattern = this.isRegex ? separator : escapeRegExp(separator);
      if (this.keep) {
        const parts = text.split(new RegExp(`(${pattern})`, 'u'));
        splits = [];
        if (this.keep === 'end') {
          for (let i = 0; i + 1 < parts.length; i += 2) splits.push(parts[i]! + parts[i + 1]!);
          if (parts.length % 2 === 1) splits.push(parts[parts.length - 1]!);
        } else {
          splits.push(parts[0]!);
          for (let i = 1; i + 1 < parts.length; i += 2) splits.push(parts[i]! + parts[i + 1]!);
        }
      } else {
        splits = text.split(new RegExp(pattern, 'u'));
      }
    }
    return splits.filter((s) => s !== '');
  }

  /** `_merge_splits`: greedy packing with overlap carried over from the previous chunk. */
  private mergeSplits(splits: string[], separator: string): string[] {
    const sepLen = this.len(separator);
    const docs: string[] = [];
    let current: string[] = [];
    let total = 0;
    for (const d of splits) {
      const l = this.len(d);
      if (total + l + (current.length > 0 ? sepLen : 0) > this.chunkSize) {
        if (current.length > 0) {
          const doc = this.joinDocs(current, separator);
          if (doc !== null) docs.push(doc);
          while (total > this.chunkOverlap || (total + l + (current.length > 0 ? sepLen : 0) > this.chunkSize && total > 0)) {
            total -= this.len(current[0]!) + (current.length > 1 ? sepLen : 0);
            current = current.slice(1);
          }
        }
      }
      current.push(d);
      total += l + (current.length > 1 ? sepLen : 0);
    }
    const doc = this.joinDocs(current, separator);
    if (doc !== null) docs.push(doc);
    return docs;
  }

  private joinDocs(docs: string[], separator: string): string | null {
    let text = docs.join(separator);
    if (this.strip) text = text.trim();
    return text === '' ? null : text;
  }
}

export function escapeRegExp(s: string): string {
  // Only syntax characters may be escaped under the `u` flag.
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
