/**
 * The per-sequence constraint the decoder's sampler consults: which tokens may come next given the
 * schema and everything generated so far. `allows(id)` is cheap (feeds one token's bytes); `mask()`
 * computes the whole allowed set over the vocabulary; `advance(id)` commits the sampled token.
 * End-of-sequence tokens are allowed exactly when the document is complete (and then, when nothing
 * else can follow, they are the only choice), so generation stops on a valid JSON document unless
 * `max_tokens` cuts it first (finish_reason `length`, as OpenAI).
 */
import { canEnd, inFreeString, startThreads, step, type Thread } from './matcher.js';
import type { SchemaNode } from './schema.js';
import type { ByteTrie, TokenIndex } from './token-index.js';

/** The sampler-facing interface (the decoder engine declares the same shape; kept structural). */
export interface LogitsConstraint {
  allows(tokenId: number): boolean;
  /** Sets every forbidden token's logit to -Infinity, in place. */
  mask(logits: Float32Array): void;
  advance(tokenId: number): void;
}

export class JsonConstraint implements LogitsConstraint {
  private threads: Thread[];
  private readonly eos: ReadonlySet<number>;
  /** Scratch shared by every constraint on one index: the engine masks one sequence at a time. */
  private static scratch = new WeakMap<TokenIndex, Uint8Array>();

  constructor(
    schema: SchemaNode,
    private readonly index: TokenIndex,
    eosTokenIds: readonly number[],
  ) {
    this.threads = startThreads(schema);
    this.eos = new Set(eosTokenIds);
  }

  /** The document is complete (only an end-of-sequence token may follow). */
  get complete(): boolean {
    return canEnd(this.threads);
  }

  allows(tokenId: number): boolean {
    if (this.eos.has(tokenId)) return this.threads.length === 0 || canEnd(this.threads);
    return this.feed(this.threads, tokenId).length > 0;
  }

  advance(tokenId: number): void {
    this.threads = this.eos.has(tokenId) ? [] : this.feed(this.threads, tokenId);
  }

  mask(logits: Float32Array): void {
    const allowed = this.allowedSet(logits.length);
    for (let i = 0; i < logits.length; i++) if (allowed[i] === 0) logits[i] = -Infinity;
  }

  /** The allowed set as a 0/1 array over the vocabulary (valid until the next call on this index). */
  allowedSet(vocabSize = this.index.vocabSize): Uint8Array {
    let allowed = JsonConstraint.scratch.get(this.index);
    if (!allowed || allowed.length < vocabSize) JsonConstraint.scratch.set(this.index, (allowed = new Uint8Array(Math.max(vocabSize, this.index.vocabSize))));
    if (inFreeString(this.threads)) {
      allowed.fill(0, this.index.plainMask.length);
      allowed.set(this.index.plainMask);
      walk(this.index.specialSuffixes, 0, this.threads, allowed);
    } else {
      allowed.fill(0);
      if (this.threads.length > 0) walk(this.index.trie, 0, this.threads, allowed);
    }
    // Nothing left to generate (a dead end cannot happen for a satisfiable schema, but never hang):
    // end-of-sequence is allowed whenever the document may end.
    if (this.threads.length === 0 || canEnd(this.threads)) for (const id of this.eos) if (id < allowed.length) allowed[id] = 1;
    return allowed;
  }

  private feed(threads: Thread[], tokenId: number): Thread[] {
    const bytes = this.index.bytesOf(tokenId);
    if (bytes.length === 0) return [];
    let t = threads;
    for (let i = 0; i < bytes.length && t.length > 0; i++) t = step(t, bytes[i]!);
    return t;
  }
}

function walk(trie: ByteTrie, node: number, threads: Thread[], allowed: Uint8Array): void {
  const start = trie.childStart[node]!;
  const end = start + trie.childCount[node]!;
  for (let e = start; e < end; e++) {
    const next = step(threads, trie.childByte[e]!);
    if (next.length === 0) continue;
    const child = trie.childNode[e]!;
    for (let t = trie.termStart[child]!; t < trie.termStart[child + 1]!; t++) allowed[trie.termTokens[t]!] = 1;
    walk(trie, child, next, allowed);
  }
}
