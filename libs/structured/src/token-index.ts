/**
 * The vocabulary, precomputed once per tokenizer, in the shapes the mask needs:
 *  - a byte trie of every token (a walk from the matcher's state visits only prefixes it accepts, so
 *    structural states — after `{`, `:`, `,`, in numbers and keys — touch a few hundred nodes);
 *  - for the state that dominates free text, inside a string value, a precomputed mask of the tokens
 *    made only of plain string bytes (always allowed there, the matcher state does not change) plus a
 *    small trie of the remaining tokens keyed by their bytes from the first quote, backslash or control
 *    byte on: the walk then covers those suffixes only (on Qwen2's 151k vocabulary, ~145k plain tokens
 *    become one 151 kB copy and the rest ~1.5k suffix nodes).
 */
import { isPlainStringByte } from './matcher.js';

export interface TokenBytesSource {
  bytesOf(tokenId: number): Uint8Array;
}

/** A flattened byte trie: children of node n are childNode[childStart[n] .. childStart[n] + childCount[n]). */
export interface ByteTrie {
  childStart: Int32Array;
  childCount: Int32Array;
  childByte: Uint8Array;
  childNode: Int32Array;
  /** Tokens whose bytes end at node n: termTokens[termStart[n] .. termStart[n + 1]). */
  termStart: Int32Array;
  termTokens: Int32Array;
}

export class TokenIndex {
  readonly trie: ByteTrie;
  /** 1 where a token is made only of plain string bytes (non-empty). */
  readonly plainMask: Uint8Array;
  /** Tokens with a quote, backslash or control byte, keyed by their bytes from that byte on. */
  readonly specialSuffixes: ByteTrie;
  private readonly bytes: Uint8Array[];

  constructor(
    source: TokenBytesSource,
    readonly vocabSize: number,
  ) {
    this.bytes = [];
    this.plainMask = new Uint8Array(vocabSize);
    const special: Array<[Uint8Array, number]> = [];
    for (let id = 0; id < vocabSize; id++) {
      const b = safeBytes(source, id);
      this.bytes.push(b);
      if (b.length === 0) continue;
      let first = -1;
      for (let i = 0; i < b.length; i++) if (!isPlainStringByte(b[i]!)) { first = i; break; }
      if (first < 0) this.plainMask[id] = 1;
      else special.push([b.subarray(first), id]);
    }
    this.trie = buildTrie(this.bytes.map((b, id) => [b, id] as [Uint8Array, number]).filter(([b]) => b.length > 0));
    this.specialSuffixes = buildTrie(special);
  }

  bytesOf(id: number): Uint8Array {
    return this.bytes[id] ?? EMPTY;
  }

  private static cache = new WeakMap<object, TokenIndex>();

  /** One index per tokenizer object (building it takes ~0.5 s for 151k tokens). */
  static for(source: TokenBytesSource, vocabSize: number): TokenIndex {
    let idx = TokenIndex.cache.get(source);
    if (!idx || idx.vocabSize !== vocabSize) {
      idx = new TokenIndex(source, vocabSize);
      TokenIndex.cache.set(source, idx);
    }
    return idx;
  }
}

const EMPTY = new Uint8Array(0);

function safeBytes(source: TokenBytesSource, id: number): Uint8Array {
  try {
    return source.bytesOf(id);
  } catch {
    return EMPTY; // ids past the tokenizer (padded embedding rows) produce no text and are never allowed
  }
}

/**
 * Builds the trie from the entries sorted by their bytes: consecutive entries share their longest
 * common prefix, so nodes are created once, in depth-first order, with no per-node maps (151k tokens:
 * ~330k nodes in well under a second instead of seconds with Map children).
 */
function buildTrie(entries: Array<[Uint8Array, number]>): ByteTrie {
  entries.sort((x, y) => compareBytes(x[0], y[0]));
  let total = 1;
  for (const [b] of entries) total += b.length;
  const firstChild = new Int32Array(total).fill(-1);
  const nextSibling = new Int32Array(total).fill(-1);
  const lastChild = new Int32Array(total).fill(-1);
  const nodeByte = new Uint8Array(total);
  const termFirst = new Int32Array(total).fill(-1);
  const termCount = new Int32Array(total);
  const termTokens = new Int32Array(entries.length);
  let nodes = 1;
  const path: number[] = [0];
  let prev: Uint8Array = new Uint8Array(0);
  entries.forEach(([b, id], k) => {
    let lcp = 0;
    while (lcp < b.length && lcp < prev.length && b[lcp] === prev[lcp]) lcp++;
    path.length = lcp + 1;
    for (let d = lcp; d < b.length; d++) {
      const parent = path[d]!;
      const n = nodes++;
      nodeByte[n] = b[d]!;
      if (lastChild[parent]! < 0) firstChild[parent] = n;
      else nextSibling[lastChild[parent]!] = n;
      lastChild[parent] = n;
      path.push(n);
    }
    const end = path[b.length]!;
    if (termFirst[end]! < 0) termFirst[end] = k;
    termCount[end]!++;
    termTokens[k] = id;
    prev = b;
  });
  // Flatten children into contiguous runs (the walk's inner loop reads them sequentially).
  const childStart = new Int32Array(nodes);
  const childCount = new Int32Array(nodes);
  const childByte = new Uint8Array(nodes);
  const childNode = new Int32Array(nodes);
  const termStart = new Int32Array(nodes + 1);
  const termOut = new Int32Array(entries.length);
  let edges = 0;
  let t = 0;
  for (let n = 0; n < nodes; n++) {
    childStart[n] = edges;
    for (let c = firstChild[n]!; c >= 0; c = nextSibling[c]!) {
      childByte[edges] = nodeByte[c]!;
      childNode[edges] = c;
      edges++;
    }
    childCount[n] = edges - childStart[n]!;
    termStart[n] = t;
    for (let j = 0; j < termCount[n]!; j++) termOut[t++] = termTokens[termFirst[n]! + j]!;
  }
  termStart[nodes] = t;
  return { childStart, childCount, childByte, childNode, termStart, termTokens: termOut };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
