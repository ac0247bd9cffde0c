import { describe, expect, it } from 'vitest';
import { analyze, analyzerId } from './analyzer.js';

describe('analyzer', () => {
  it('Chinese: overlapping bigrams, a one-character run stays a unigram', () => {
    expect(analyze('北京大学', { hanVariants: false })).toEqual(['北京', '京大', '大学']);
    expect(analyze('东京是首都。我', { hanVariants: false })).toEqual(['东京', '京是', '是首', '首都', '我']);
    // Query segmented differently from the document still shares bigrams.
    const doc = new Set(analyze('我们在北京大学学习'));
    expect(analyze('北京大学').every((t) => doc.has(t))).toBe(true);
  });

  it('Simplified, Traditional and Japanese spellings of a character meet', () => {
    expect(analyze('图书馆')).toEqual(analyze('圖書館'));
    expect(analyze('図書館')).toEqual(analyze('圖書館'));
    expect(analyze('东京')).toEqual(analyze('東京'));
    expect(analyze('铁路')).toEqual(analyze('鉄路'));
  });

  it('Japanese: runs cut at kanji / hiragana / katakana boundaries', () => {
    expect(analyze('東京都に住んでいる', { hanVariants: false })).toEqual(['東京', '京都', 'に', '住', 'んで', 'でい', 'いる']);
    expect(analyze('コーヒーが好き', { hanVariants: false })).toEqual(['コー', 'ーヒ', 'ヒー', 'が', '好', 'き']);
    // Half-width katakana are NFKC-folded to full width.
    expect(analyze('ｺｰﾋｰ')).toEqual(analyze('コーヒー'));
    expect(analyze('佐々木')).toEqual(['佐々', '々木']);
  });

  it('Turkish: İ/I/ı/i fold together, apostrophe suffixes split, prefix-5 stems', () => {
    expect(analyze("İstanbul'da")).toEqual(['istanbul', '>istan', 'da']);
    expect(analyze('ISTANBUL')).toEqual(analyze('istanbul'));
    expect(analyze('IŞIK')).toEqual(analyze('ışık'));
    const a = analyze('kitapları');
    const b = analyze('kitap');
    expect(a).toContain('>kitap');
    expect(b).toContain('>kitap');
    expect(analyze('ev')).toEqual(['ev']);
  });

  it('diacritic folding is an option and never touches kana voicing marks', () => {
    expect(analyze('şişe çiçek')).toEqual(['şişe', 'çiçek', '>çiçek']);
    expect(analyze('şişe çiçek Café', { foldDiacritics: true })).toEqual(['sise', 'cicek', '>cicek', 'cafe']);
    expect(analyze('がぎぐ', { foldDiacritics: true })).toEqual(['がぎ', 'ぎぐ']);
    expect(analyzerId({ foldDiacritics: true })).not.toBe(analyzerId());
  });

  it('English and digits: words, light stems, numbers as their own terms', () => {
    expect(analyze('Retrieval in 2024: XR-200!')).toEqual(['retrieval', '>retri', 'in', '2024', 'xr', '200']);
    expect(analyze('   \n\t ')).toEqual([]);
    expect(analyze('。、！？')).toEqual([]);
  });

  it('Korean is bigrammed like Chinese', () => {
    expect(analyze('서울시')).toEqual(['서울', '울시']);
  });
});
