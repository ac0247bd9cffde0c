/**
 * The lexical analyzer: text → index terms, the same at ingest and at query time (the inverted
 * index stores its output, and queries run through it again). Script-aware:
 *
 * - Han / Hangul runs: overlapping character bigrams, plus the character itself for a one-character
 *   run ("单字词"). Bigrams need no dictionary and beat word segmentation for retrieval: a query
 *   segmented differently from the document still shares bigrams with it (北京大学 → 北京 京大 大学).
 * - Japanese: a run is cut where the script changes between kanji, hiragana and katakana (東京都に
 *   住んでいる → 東京都 | に | 住 | んでいる), so bigrams never straddle a kanji/kana boundary
 *   (都に is noise); each piece is bigrammed as above. The long-vowel mark ー and the iteration
 *   marks 々 ゝ ゞ stay with their run.
 * - Other scripts (Latin, Cyrillic, Greek, …): words of letters, marks and digits, case-folded with
 *   Turkish-aware folding (İ I ı i → i, see fold.ts); optionally diacritics folded (ş → s, é → e,
 *   off by default: in Turkish they distinguish words, but users often type without them). A word
 *   of `stemPrefix` or more code points also yields its prefix as a term (`>kitap` for kitap and kitapları):
 *   the first-5-characters stem is the classic cheap stemmer for Turkish (Can et al. 2008) and
 *   works as a light stemmer for English (retrieval ≈ retrieve).
 * - Han characters are first mapped to one canonical form (OpenCC Traditional, han-variants.gen.ts),
 *   so Simplified, Traditional and Japanese spellings meet: 图书馆 / 圖書館 / 図書館 share their terms,
 *   which is most of what lexical search can do across zh ↔ ja.
 * - Digit runs are terms of their own (years, model numbers match across languages).
 *
 * Terms are plain strings; stems carry a leading ">" so they never collide with words.
 */
import { foldCase } from './fold.js';
import { HAN_VARIANT_PAIRS } from './han-variants.gen.js';

export interface AnalyzerOptions {
  /** [false] Strip diacritics from non-CJK words (ş → s, é → e). Changes index terms: fixed per collection. */
  foldDiacritics?: boolean;
  /** [true] Map Han characters to their canonical (Traditional) form before bigramming. */
  hanVariants?: boolean;
  /** [5] Words of at least this many code points also index their first `stemPrefix` characters; 0 = off. */
  stemPrefix?: number;
}

export const DEFAULT_ANALYZER: Required<AnalyzerOptions> = Object.freeze({ foldDiacritics: false, hanVariants: true, stemPrefix: 5 });

let variants: Map<string, string> | undefined;
function hanCanonical(ch: string): string {
  if (!variants) {
    variants = new Map();
    const cps = Array.from(HAN_VARIANT_PAIRS);
    for (let i = 0; i + 1 < cps.length; i += 2) variants.set(cps[i]!, cps[i + 1]!);
  }
  return variants.get(ch) ?? ch;
}

/** Version tag stored with a collection's index terms: a change of analyzer means re-analysis. */
export function analyzerId(o: AnalyzerOptions = {}): string {
  const a = { ...DEFAULT_ANALYZER, ...o };
  return `ml1${a.foldDiacritics ? '-fd' : ''}${a.hanVariants ? '-hv' : ''}-p${a.stemPrefix}`;
}

type Script = 'han' | 'hira' | 'kata' | 'hangul' | 'word' | 'digit' | 'other';

const HAN = /[\p{Script=Han}々〆〇]/u;
const HIRA = /[\p{Script=Hiragana}ゝゞ]/u;
const KATA = /[\p{Script=Katakana}ー]/u;
const HANGUL = /\p{Script=Hangul}/u;
const DIGIT = /\p{Nd}/u;
const WORD = /[\p{L}\p{M}]/u;

function scriptOf(ch: string): Script {
  if (DIGIT.test(ch)) return 'digit';
  if (HAN.test(ch)) return 'han';
  if (HIRA.test(ch)) return 'hira';
  if (KATA.test(ch)) return 'kata';
  if (HANGUL.test(ch)) return 'hangul';
  if (WORD.test(ch)) return 'word';
  return 'other';
}

const COMBINING = /\p{M}/gu;

function bigrams(chars: readonly string[], out: string[]): void {
  if (chars.length === 1) {
    out.push(chars[0]!);
    return;
  }
  for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i]! + chars[i + 1]!);
}

/** Index terms of `text`, in text order (duplicates kept: term frequency counts them). */
export function analyze(text: string, opts: AnalyzerOptions = {}): string[] {
  const o = opts.foldDiacritics === undefined && opts.stemPrefix === undefined && opts.hanVariants === undefined ? DEFAULT_ANALYZER : { ...DEFAULT_ANALYZER, ...opts };
  const out: string[] = [];
  const folded = foldCase(text);
  let run: string[] = [];
  let runScript: Script = 'other';
  const flush = (): void => {
    if (run.length === 0) return;
    if (runScript === 'word') {
      let w = run.join('');
      if (o.foldDiacritics) w = w.normalize('NFD').replace(COMBINING, '').normalize('NFC');
      if (w.length > 0) {
        out.push(w);
        const cps = Array.from(w);
        if (o.stemPrefix > 0 && cps.length >= o.stemPrefix) out.push(`>${cps.slice(0, o.stemPrefix).join('')}`);
      }
    } else if (runScript === 'digit') {
      out.push(run.join(''));
    } else if (runScript !== 'other') {
      bigrams(run, out);
    }
    run = [];
  };
  for (const ch of folded) {
    let s = scriptOf(ch);
    // Marks continue the run they follow (combining accents on Latin, dakuten on kana).
    if (s === 'word' && /\p{M}/u.test(ch) && runScript !== 'other') s = runScript;
    if (s !== runScript) {
      flush();
      runScript = s;
    }
    if (s !== 'other') run.push(s === 'han' && o.hanVariants ? hanCanonical(ch) : ch);
  }
  flush();
  return out;
}
