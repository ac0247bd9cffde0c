/**
 * Code point ↔ UTF-16 ↔ UTF-8 offset maps for one text.
 *
 * Spans are stored in code points. JS strings index UTF-16 units, so every astral character
 * (CJK Extension B such as 𠮷, emoji) is 2 units but 1 code point and 4 UTF-8 bytes; a client
 * that sends `String.prototype.slice` offsets for such text is off by one per astral character
 * before the span. The exports carry all three units so any tokenizer's offset mapping can be used
 * (HF fast tokenizers in Python report code points; byte-level BPE works on UTF-8 bytes).
 */
export class TextOffsets {
  readonly codePoints: readonly string[];
  /** utf16[i] = UTF-16 index where code point i starts; utf16[length] = text.length. */
  private readonly utf16: Uint32Array;
  /** utf8[i] = UTF-8 byte index where code point i starts. */
  private readonly utf8: Uint32Array;

  constructor(readonly text: string) {
    this.codePoints = Array.from(text);
    const n = this.codePoints.length;
    this.utf16 = new Uint32Array(n + 1);
    this.utf8 = new Uint32Array(n + 1);
    let u16 = 0;
    let u8 = 0;
    for (let i = 0; i < n; i++) {
      this.utf16[i] = u16;
      this.utf8[i] = u8;
      const cp = this.codePoints[i].codePointAt(0)!;
      u16 += cp > 0xffff ? 2 : 1;
      u8 += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    }
    this.utf16[n] = u16;
    this.utf8[n] = u8;
  }

  /** Length in code points. */
  get length(): number {
    return this.codePoints.length;
  }

  slice(start: number, end: number): string {
    return this.text.slice(this.utf16[start], this.utf16[end]);
  }

  toUtf16(cp: number): number {
    return this.utf16[cp];
  }

  toUtf8(cp: number): number {
    return this.utf8[cp];
  }

  /** The code point offset of a UTF-16 index; throws on an index inside a surrogate pair. */
  fromUtf16(u16: number): number {
    let lo = 0;
    let hi = this.codePoints.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.utf16[mid] < u16) lo = mid + 1;
      else hi = mid;
    }
    if (this.utf16[lo] !== u16) throw new RangeError(`UTF-16 offset ${u16} splits a surrogate pair`);
    return lo;
  }
}

export { codePointLength } from '@tessera/structured';
