/**
 * Incremental, UTF-8-safe detokenizer with stop strings.
 *
 * Byte-level BPE tokens are byte strings, and one character (e.g. "é" = C3 A9, "🙂" = 4 bytes) can be
 * split across tokens. Bytes go through a streaming TextDecoder, which holds an incomplete trailing
 * sequence until the next token completes it, so a delta never contains half a character.
 * Invalid bytes become U+FFFD (HF's `errors="replace"`).
 *
 * Stop strings can also span tokens: text that could still be the start of a stop string is held
 * back until it either completes the stop string (output is cut before it) or cannot any more.
 */

/** What each token id contributes to the output text, as raw bytes (empty for special tokens). */
export interface TokenBytes {
  bytesOf(tokenId: number): Uint8Array;
}

export interface DetokenizeStep {
  /** Text safe to emit now. */
  text: string;
  /** The stop string that just completed (the output ends before it). */
  stop?: string;
}

export class IncrementalDetokenizer {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  /** Decoded text not yet emitted (a possible stop-string prefix). */
  private pending = '';
  private readonly maxStop: number;

  constructor(
    private readonly table: TokenBytes,
    private readonly stops: readonly string[] = [],
  ) {
    this.maxStop = stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  /**
   * `lookForStops` false (a token inside min_tokens): the text is released whole, never held back or
   * cut, so a stop string inside it does not end the answer; later tokens' text is searched on its own.
   */
  push(tokenId: number, lookForStops = true): DetokenizeStep {
    const bytes = this.table.bytesOf(tokenId);
    if (bytes.length === 0) return { text: '' };
    this.pending += this.decoder.decode(bytes, { stream: true });
    if (!lookForStops) {
      const text = this.pending;
      this.pending = '';
      return { text };
    }
    return this.release();
  }

  /** End of sequence: flush held bytes (an unfinished character becomes U+FFFD) and held text. */
  finish(): string {
    this.pending += this.decoder.decode();
    const out = this.pending;
    this.pending = '';
    // A stop string can still complete inside the final flush.
    const hit = this.findStop(out);
    return hit ? out.slice(0, hit.at) : out;
  }

  private release(): DetokenizeStep {
    if (this.stops.length === 0) {
      const text = this.pending;
      this.pending = '';
      return { text };
    }
    const hit = this.findStop(this.pending);
    if (hit) {
      const text = this.pending.slice(0, hit.at);
      this.pending = '';
      return { text, stop: hit.stop };
    }
    let keep = this.heldSuffix(this.pending);
    let cut = this.pending.length - keep;
    // Never split a surrogate pair when holding back.
    if (cut > 0 && cut < this.pending.length && isHighSurrogate(this.pending.charCodeAt(cut - 1))) cut -= 1;
    const text = this.pending.slice(0, cut);
    this.pending = this.pending.slice(cut);
    return { text };
  }

  private findStop(s: string): { at: number; stop: string } | undefined {
    let best: { at: number; stop: string } | undefined;
    for (const stop of this.stops) {
      const at = s.indexOf(stop);
      if (at >= 0 && (!best || at < best.at)) best = { at, stop };
    }
    return best;
  }

  /** Length of the longest suffix of s that is a proper prefix of some stop string. */
  private heldSuffix(s: string): number {
    const lim = Math.min(s.length, this.maxStop - 1);
    for (let n = lim; n > 0; n--) {
      const tail = s.slice(s.length - n);
      if (this.stops.some((stop) => stop.length > n && stop.startsWith(tail))) return n;
    }
    return 0;
  }
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/** GPT-2 byte-level alphabet: the printable stand-in character for each byte 0..255. */
export function byteLevelAlphabet(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) { bs.push(b); cs.push(256 + n); n++; }
  }
  const out = new Array<string>(256);
  bs.forEach((b, k) => { out[b] = String.fromCharCode(cs[k]!); });
  return out;
}

/**
 * Token-byte table for a byte-level BPE vocabulary (Qwen2, GPT-2): each vocab string is mapped
 * back through the byte-level alphabet; added tokens contribute their UTF-8 text, special ones nothing.
 */
export function byteLevelTokenBytes(
  vocab: Iterable<[string, number]>,
  added: Iterable<{ id: number; content: string; special: boolean }> = [],
  vocabSize?: number,
): TokenBytes {
  const decode = new Map<string, number>();
  byteLevelAlphabet().forEach((ch, b) => decode.set(ch, b));
  const table: Uint8Array[] = [];
  const enc = new TextEncoder();
  const empty = new Uint8Array(0);
  for (const [piece, id] of vocab) {
    const bytes = new Uint8Array(piece.length);
    let ok = true;
    let n = 0;
    for (const ch of piece) {
      const b = decode.get(ch);
      if (b === undefined) { ok = false; break; }
      bytes[n++] = b;
    }
    table[id] = ok ? bytes.subarray(0, n) : enc.encode(piece);
  }
  for (const a of added) table[a.id] = a.special ? empty : enc.encode(a.content);
  const size = vocabSize ?? table.length;
  return { bytesOf: (id) => (id >= 0 && id < size ? table[id] ?? empty : empty) };
}
