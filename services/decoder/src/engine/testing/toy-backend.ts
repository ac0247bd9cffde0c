/**
 * A pure-TS toy decoder for the scheduler's unit tests ONLY (admission, fairness, budgets, cancel,
 * detokenizer plumbing). Integration and e2e tests use the ORT backend over the real graph.
 *
 * It honours the graph's contract: the attention mask decides which past positions count, the KV
 * grows by T per call, and logits depend on every unmasked position, so a padding or ordering bug
 * in the batch changes its output.
 */
import type { BackendInfo, DecoderBackend, ForwardInput, ForwardOutput, LayerKv } from '../backend.js';

const HIDDEN = 8;

export class ToyBackend implements DecoderBackend {
  readonly info: BackendInfo;
  forwardCalls: { batch: number; seqLen: number; pastLen: number }[] = [];
  /** Throws from forward when a row's first embedding value equals this (fault injection). */
  failOnValue: number | undefined;

  constructor(vocabSize = 300, eos = [299]) {
    this.info = {
      modelName: 'toy', numLayers: 1, numKvHeads: 1, headDim: HIDDEN, hiddenSize: HIDDEN, vocabSize,
      maxContext: 512, kvDtype: 'float32', eosTokenIds: eos, weightBytes: 0,
    };
  }

  async embedTokens(ids: Int32Array): Promise<Float32Array> {
    const out = new Float32Array(ids.length * HIDDEN);
    ids.forEach((id, t) => {
      for (let d = 0; d < HIDDEN; d++) out[t * HIDDEN + d] = Math.sin(id * (d + 1) * 0.37);
    });
    return out;
  }

  async forward(x: ForwardInput): Promise<ForwardOutput> {
    this.forwardCalls.push({ batch: x.batch, seqLen: x.seqLen, pastLen: x.pastLen });
    const { batch: B, seqLen: T, pastLen: P } = x;
    const S = P + T;
    const V = this.info.vocabSize;
    const key = new Float32Array(B * S * HIDDEN);
    for (let b = 0; b < B; b++) {
      key.set(x.past[0]!.key.subarray(b * P * HIDDEN, (b + 1) * P * HIDDEN) as Float32Array, b * S * HIDDEN);
      key.set(x.inputsEmbeds.subarray(b * T * HIDDEN, (b + 1) * T * HIDDEN), (b * S + P) * HIDDEN);
    }
    const logits = new Float32Array(B * V);
    for (let b = 0; b < B; b++) {
      if (this.failOnValue !== undefined && x.inputsEmbeds[b * T * HIDDEN] === this.failOnValue) throw new Error('toy fault');
      const h = new Float32Array(HIDDEN);
      let n = 0;
      for (let s = 0; s < S; s++) {
        if (x.attentionMask[b * S + s] !== 1n) continue;
        // Weight by the position inside the sequence (not the padded column), as RoPE would.
        for (let d = 0; d < HIDDEN; d++) h[d]! += key[(b * S + s) * HIDDEN + d]! * (1 + (n % 3));
        n++;
      }
      const pos = Number(x.positionIds[b * T + T - 1]);
      for (let v = 0; v < V; v++) {
        let acc = Math.cos(v * 0.11 * (pos + 1));
        for (let d = 0; d < HIDDEN; d++) acc += (h[d]! / n) * Math.sin(v * (d + 2) * 0.29);
        logits[b * V + v] = acc * 4;
      }
    }
    const present: LayerKv[] = [{ key, value: key.slice() }];
    await new Promise((r) => setImmediate(r));
    return { logits, present };
  }
}

/** Token i (i < 256) is byte i; ids ≥ 256 are special (no text). */
export const byteTokens = { bytesOf: (id: number) => (id < 256 ? Uint8Array.of(id) : new Uint8Array(0)) };
