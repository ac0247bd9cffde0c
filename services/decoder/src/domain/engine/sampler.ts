/**
 * Token selection from one row of logits. Order (as vLLM/HF): penalties → temperature → top-k →
 * top-p → min-p → renormalise → draw with the sequence's own PRNG. Greedy when temperature is 0.
 *
 * Vocabularies are ~152k entries, so nothing here sorts the whole vocabulary unless it has to:
 * top-k uses a bounded heap, top-p first tries candidates above a probability floor and widens it.
 */
import type { Prng } from './prng.js';
import type { LogitsConstraint, SamplingParams, TokenLogprob } from './types.js';

/**
 * What the penalties look at: generated tokens only. HF generates MiniCPM-V from inputs_embeds, so its
 * repetition penalty never sees prompt ids; the OpenAI-style penalties are defined over the output.
 */
export interface PenaltyState {
  /** Output token → count. */
  outputCounts: Map<number, number>;
}

export interface SampleResult {
  tokenId: number;
  logprob?: TokenLogprob;
}

export class Sampler {
  private readonly scratch: Float32Array;
  private readonly weights: Float64Array;

  constructor(vocabSize: number) {
    this.scratch = new Float32Array(vocabSize);
    this.weights = new Float64Array(vocabSize);
  }

  /** `banned`: ids that may not be sampled at this step (a sequence's stop ids before its min_tokens). */
  sample(logits: Float32Array, params: SamplingParams, penalties: PenaltyState, prng: Prng, constraint?: LogitsConstraint, banned?: ReadonlySet<number>): SampleResult {
    let x = this.adjustLogits(logits, params, penalties, banned);
    const greedy = params.temperature === 0 || params.topK === 1;
    let tokenId = -1;
    if (constraint) {
      // Check the unconstrained pick first and mask only when it is forbidden. Exact for greedy (the
      // masked argmax is the best allowed token) and for plain temperature sampling (a rejected draw
      // redrawn from the masked distribution yields p(t)/P(allowed), the masked distribution); with
      // top-k/top-p/min-p the cut depends on the mask, so those mask first.
      if (greedy || (params.topP >= 1 && params.topK === 0 && params.minP === 0)) {
        tokenId = greedy ? argmax(x) : this.draw(x, params, prng);
        if (!constraint.allows(tokenId)) tokenId = -1;
      }
      if (tokenId < 0) {
        if (x === logits) x = this.copy(logits);
        constraint.mask(x);
        tokenId = greedy ? argmax(x) : this.draw(x, params, prng);
      }
      constraint.advance(tokenId);
    } else tokenId = greedy ? argmax(x) : this.draw(x, params, prng);
    if (params.logprobs) return { tokenId, logprob: topLogprobs(x, tokenId, params.topLogprobs, params.temperature === 0 ? 1 : 1 / params.temperature) };
    return { tokenId };
  }

  private copy(logits: Float32Array): Float32Array {
    this.scratch.set(logits);
    return this.scratch;
  }

  /** Penalties, logit_bias and banned ids on a copy (the caller's logits are untouched); the logits themselves when none applies. */
  private adjustLogits(logits: Float32Array, p: SamplingParams, s: PenaltyState, banned: ReadonlySet<number> | undefined): Float32Array {
    const rep = p.repetitionPenalty !== 1;
    const addl = p.presencePenalty !== 0 || p.frequencyPenalty !== 0;
    const bias = p.logitBias;
    const ban = banned !== undefined && banned.size > 0;
    if (!rep && !addl && !bias && !ban) return logits;
    const x = this.scratch;
    x.set(logits);
    if (rep) {
      const penalise = (t: number): void => {
        const v = logits[t]!;
        x[t] = v > 0 ? v / p.repetitionPenalty : v * p.repetitionPenalty;
      };
      for (const t of s.outputCounts.keys()) penalise(t);
    }
    if (addl) {
      for (const [t, n] of s.outputCounts) x[t] = x[t]! - p.presencePenalty - p.frequencyPenalty * n;
    }
    // OpenAI's logit_bias: an offset on the raw logit (after the penalties, before temperature).
    if (bias) for (const [t, b] of bias) x[t] = x[t]! + b;
    // Last, so no bias can bring a banned id back (vLLM's min_tokens masks after logit_bias too).
    if (ban) for (const t of banned) x[t] = -Infinity;
    return x;
  }

  private draw(x: Float32Array, p: SamplingParams, prng: Prng): number {
    const invT = 1 / p.temperature;
    let max = -Infinity;
    for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
    if (!Number.isFinite(max)) return argmax(x);

    if (p.topK > 0 && p.topK < x.length) {
      let cands = topK(x, p.topK);
      let z = 0;
      for (const c of cands) { c.w = Math.exp((c.x - max) * invT); z += c.w; }
      if (p.topP < 1) cands = cutNucleus(cands, z, p.topP);
      // p_i ≥ minP · p_max ⇔ w_i ≥ minP · w_max; candidates are sorted, so w_max = cands[0].w.
      if (p.minP > 0) cands = cands.filter((c) => c.w >= p.minP * cands[0]!.w);
      let total = 0;
      for (const c of cands) total += c.w;
      let u = prng.nextFloat() * total;
      for (const c of cands) {
        u -= c.w;
        if (u < 0) return c.i;
      }
      return cands[cands.length - 1]!.i;
    }

    // Whole vocabulary: weights once, then a threshold (top-p, min-p), then a walk in id order.
    const w = this.weights;
    let z = 0;
    for (let i = 0; i < x.length; i++) z += w[i] = Math.exp((x[i]! - max) * invT);
    let floor = p.minP; // w_max = exp(0) = 1
    if (p.topP < 1) floor = Math.max(floor, nucleusThreshold(w, z, p.topP));
    let total = 0;
    for (let i = 0; i < w.length; i++) if (w[i]! >= floor) total += w[i]!;
    let u = prng.nextFloat() * total;
    let last = 0;
    for (let i = 0; i < w.length; i++) {
      if (w[i]! < floor) continue;
      last = i;
      u -= w[i]!;
      if (u < 0) return i;
    }
    return last;
  }
}

/**
 * The smallest weight w* such that the tokens with w ≥ w* carry at least topP of the mass
 * (tokens tied at w* are all kept). Tries only weights ≥ 1e-3·z first (at most 1000 of them, the
 * common peaked case), and falls back to a native sort of every weight (flat distributions).
 */
function nucleusThreshold(w: Float64Array, z: number, topP: number): number {
  const need = topP * z;
  for (const frac of [1e-3, 0]) {
    const min = frac * z;
    let n = 0;
    let mass = 0;
    for (let i = 0; i < w.length; i++) if (w[i]! >= min) { n++; mass += w[i]!; }
    if (mass < need && frac > 0) continue;
    const vals = new Float64Array(n);
    n = 0;
    for (let i = 0; i < w.length; i++) if (w[i]! >= min) vals[n++] = w[i]!;
    vals.sort();
    let cum = 0;
    for (let j = vals.length - 1; j >= 0; j--) {
      cum += vals[j]!;
      if (cum >= need) return vals[j]!;
    }
    return vals[0] ?? 0;
  }
  return 0;
}

interface Candidate { i: number; x: number; w: number }

const byLogitDesc = (a: Candidate, b: Candidate): number => b.x - a.x || a.i - b.i;

export function argmax(x: Float32Array): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > bv) { bv = x[i]!; best = i; }
  return best;
}

/** Ids of the k largest logits, most likely first (ties: lower id first). */
export function topIds(x: Float32Array, k: number): number[] {
  return k > 0 ? topK(x, k).map((c) => c.i) : [];
}

/** The k largest logits, sorted descending (ties: lower id first). Bounded min-heap, O(V log k). */
function topK(x: Float32Array, k: number): Candidate[] {
  const heapI = new Int32Array(k);
  const heapX = new Float32Array(k);
  let n = 0;
  const less = (a: number, b: number): boolean => heapX[a]! < heapX[b]! || (heapX[a] === heapX[b] && heapI[a]! > heapI[b]!);
  const swap = (a: number, b: number): void => {
    const ti = heapI[a]!; heapI[a] = heapI[b]!; heapI[b] = ti;
    const tx = heapX[a]!; heapX[a] = heapX[b]!; heapX[b] = tx;
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < n && less(l, m)) m = l;
      if (r < n && less(r, m)) m = r;
      if (m === i) return;
      swap(i, m); i = m;
    }
  };
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (n < k) {
      heapI[n] = i; heapX[n] = v;
      let c = n++;
      while (c > 0) { const pa = (c - 1) >> 1; if (!less(c, pa)) break; swap(c, pa); c = pa; }
    } else if (v > heapX[0]!) {
      heapI[0] = i; heapX[0] = v; down(0);
    }
  }
  const out: Candidate[] = [];
  for (let j = 0; j < n; j++) out.push({ i: heapI[j]!, x: heapX[j]!, w: 0 });
  return out.sort(byLogitDesc);
}




/** Keeps sorted candidates up to and including the one where the cumulative mass reaches topP. */
function cutNucleus(sorted: Candidate[], z: number, topP: number): Candidate[] {
  let cum = 0;
  for (let j = 0; j < sorted.length; j++) {
    cum += sorted[j]!.w / z;
    if (cum >= topP) return sorted.slice(0, j + 1);
  }
  return sorted;
}

/**
 * Log-softmax of the penalised logits scaled by 1/temperature (before top-k/top-p/min-p): the
 * chosen token's logprob and the top-n alternatives.
 */
export function topLogprobs(logits: Float32Array, chosen: number, n: number, invT = 1): TokenLogprob {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += Math.exp((logits[i]! - max) * invT);
  const lse = Math.log(z);
  const lp = (v: number): number => (v - max) * invT - lse;
  const top = n > 0 ? topK(logits, n).map((c) => ({ tokenId: c.i, logprob: lp(c.x) })) : [];
  return { tokenId: chosen, logprob: lp(logits[chosen]!), top };
}

/** log Σ exp(x) over one row, stable (max-shifted); −Infinity for an all −Infinity row. */
export function logSumExp(x: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
  if (!Number.isFinite(max)) return max;
  let z = 0;
  for (let i = 0; i < x.length; i++) z += Math.exp(x[i]! - max);
  return max + Math.log(z);
}

/**
 * The chosen token's log-probability under the raw distribution of a row of logits (no penalties, bias
 * or temperature; vLLM V1's `raw_logprobs`): logits[chosen] − lse. `lse` is the row's log-sum-exp when the
 * backend computed it (`logits_lse`): O(1); without it, one pass over the vocabulary here.
 */
export function rawLogprob(logits: Float32Array, chosen: number, lse?: number): TokenLogprob {
  const l = lse ?? logSumExp(logits);
  return { tokenId: chosen, logprob: Math.min(0, logits[chosen]! - l), top: [] };
}
