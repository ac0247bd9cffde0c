/**
 * A pure-TS toy decoder for the engine's unit tests ONLY (scheduling, budgets, preemption, prefix
 * cache, cancel, detokenizer plumbing). Integration and e2e tests use the ORT backend over the real graph.
 *
 * It honours the port's contract: the past comes only from the row's blocks (a wrong block table,
 * an overwritten shared block or a stale slot changes the output), the new tokens are written into
 * the blocks, and logits depend on every token of the sequence and its position.
 * With `withState`, it also keeps a per-sequence running sum in a state slot, as a linear-attention
 * layer would, and its logits depend on it.
 */
import type { BackendInfo, CacheSize, DecoderBackend, StepInput, StepOutput } from '../domain/engine/backend.js';

const HIDDEN = 8;
/** Reported KV bytes per token: about the tiny model's (1 KiB), so default budgets give realistic block counts. */
export const TOY_KV_BYTES_PER_TOKEN = 1024;

export class ToyBackend implements DecoderBackend {
  readonly info: BackendInfo;
  steps: { rows: number; seqLen: number; queryLengths: number[] }[] = [];
  /** Throws from step when a row's first embedding value equals this (fault injection). */
  failOnValue: number | undefined;
  /** Wall time each step takes (ms), for tests that need a generation to outlive a deadline. */
  stepDelayMs = 0;
  /** Also return each logits row's log-sum-exp, as graphs with `logits_lse` do. */
  withLogSumExp = false;
  private pool = new Float32Array(0);
  private state = new Float32Array(0);
  private size: CacheSize = { numBlocks: 0, blockSize: 1, numStateSlots: 0 };

  constructor(vocabSize = 300, eos = [299], readonly withState = false) {
    this.info = {
      modelName: 'toy', numLayers: 1, hiddenSize: HIDDEN, vocabSize, maxContext: 512,
      kvBytesPerToken: TOY_KV_BYTES_PER_TOKEN, stateBytesPerSequence: withState ? HIDDEN * 4 : 0, eosTokenIds: eos, weightBytes: 0, promptLogits: true,
    };
  }

  allocateCache(size: CacheSize): void {
    this.size = size;
    // NaN in never-written cache memory makes any read of a wrong block visible (small pools only:
    // filling the default 512 MiB budget would dominate the test time).
    this.pool = new Float32Array(size.numBlocks * size.blockSize * HIDDEN);
    if (this.pool.length <= 1 << 20) this.pool.fill(NaN);
    this.state = new Float32Array(Math.max(1, size.numStateSlots) * HIDDEN).fill(NaN);
  }

  resetState(slot: number): void {
    if (this.withState) this.state.fill(0, slot * HIDDEN, (slot + 1) * HIDDEN);
  }

  async embedTokens(ids: Int32Array): Promise<Float32Array> {
    const out = new Float32Array(ids.length * HIDDEN);
    ids.forEach((id, t) => {
      for (let d = 0; d < HIDDEN; d++) out[t * HIDDEN + d] = Math.sin(id * (d + 1) * 0.37);
    });
    return out;
  }

  async step(x: StepInput): Promise<StepOutput> {
    if (this.stepDelayMs > 0) await new Promise((r) => setTimeout(r, this.stepDelayMs));
    this.steps.push({ rows: x.rows.length, seqLen: x.seqLen, queryLengths: x.rows.map((r) => r.queryLength) });
    const T = x.seqLen;
    const V = this.info.vocabSize;
    const bs = this.size.blockSize;
    x.rows.forEach((_, b) => {
      if (this.failOnValue !== undefined && x.inputsEmbeds[b * T * HIDDEN] === this.failOnValue) throw new Error('toy fault');
    });
    const out: Float32Array[] = [];
    x.rows.forEach((row, b) => {
      // Write the new tokens' "keys" (their embeddings) into the row's blocks.
      for (let t = 0; t < row.queryLength; t++) {
        const p = row.pastLength + t;
        const at = (row.blockTable[Math.floor(p / bs)]! * bs + (p % bs)) * HIDDEN;
        this.pool.set(x.inputsEmbeds.subarray((b * T + t) * HIDDEN, (b * T + t + 1) * HIDDEN), at);
      }
      // Token by token, so with allLogits each position sees the state as of itself.
      for (let t = 0; t < row.queryLength; t++) {
        if (this.withState) {
          const s = row.stateSlot * HIDDEN;
          for (let d = 0; d < HIDDEN; d++) this.state[s + d]! += x.inputsEmbeds[(b * T + t) * HIDDEN + d]!;
        }
        if (row.allLogits || t === row.queryLength - 1) out.push(this.logitsOf(row, row.pastLength + t + 1));
      }
    });
    const logits = new Float32Array(out.length * V);
    out.forEach((l, i) => logits.set(l, i * V));
    await new Promise((r) => setImmediate(r));
    if (!this.withLogSumExp) return { logits };
    const lse = Float32Array.from(out, (l) => {
      const max = Math.max(...l);
      return max + Math.log(l.reduce((z, x) => z + Math.exp(x - max), 0));
    });
    return { logits, logSumExp: lse };
  }

  /** Logits after the row's first S tokens: a function of every one of them (from its blocks), their positions and the state. */
  private logitsOf(row: StepInput['rows'][number], S: number): Float32Array {
    const V = this.info.vocabSize;
    const bs = this.size.blockSize;
    const h = new Float32Array(HIDDEN);
    for (let p = 0; p < S; p++) {
      const at = (row.blockTable[Math.floor(p / bs)]! * bs + (p % bs)) * HIDDEN;
      for (let d = 0; d < HIDDEN; d++) h[d]! += this.pool[at + d]! * (1 + (p % 3));
    }
    if (this.withState) for (let d = 0; d < HIDDEN; d++) h[d]! += 0.5 * this.state[row.stateSlot * HIDDEN + d]!;
    const logits = new Float32Array(V);
    for (let v = 0; v < V; v++) {
      let acc = Math.cos(v * 0.11 * S);
      for (let d = 0; d < HIDDEN; d++) acc += (h[d]! / S) * Math.sin(v * (d + 2) * 0.29);
      logits[v] = acc * 4;
    }
    return logits;
  }

  /** The same function without any cache: the whole sequence every time (the reference). */
  async forwardNoCache(ids: Int32Array): Promise<Float32Array> {
    const scratch = new ToyBackend(this.info.vocabSize, this.info.eosTokenIds, this.withState);
    const bs = 4;
    const n = Math.ceil(ids.length / bs);
    scratch.allocateCache({ numBlocks: n, blockSize: bs, numStateSlots: 1 });
    scratch.resetState(0);
    return (await scratch.step({ rows: [{ pastLength: 0, queryLength: ids.length, blockTable: Array.from({ length: n }, (_, j) => j), stateSlot: 0 }], seqLen: ids.length, inputsEmbeds: await this.embedTokens(ids) })).logits;
  }
}

/** Token i (i < 256) is byte i; ids ≥ 256 are special (no text). */
export const byteTokens = { bytesOf: (id: number) => (id < 256 ? Uint8Array.of(id) : new Uint8Array(0)) };
