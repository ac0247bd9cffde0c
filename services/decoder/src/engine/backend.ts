/**
 * The one seam between the engine and a model runtime. The ORT backend over `@tessera/model`'s
 * decoder stage implements it for real; a pure-TS toy implements it only inside scheduler unit tests.
 *
 * Tensor layouts follow the decoder stage graph:
 *   inputs_embeds [B,T,hidden] f32, attention_mask [B,past+T] i64 (0 = padding, anywhere in the past),
 *   position_ids [B,T] i64, past key/value per layer [B,kvHeads,past,headDim]
 *   → logits [B,vocab] for the LAST position, present key/value per layer [B,kvHeads,past+T,headDim].
 */

/** KV element storage: float32, or float16 kept as raw 16-bit words. */
export type KvArray = Float32Array | Uint16Array;

export interface BackendInfo {
  modelName: string;
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  hiddenSize: number;
  vocabSize: number;
  /** Longest prompt + completion the positions support. */
  maxContext: number;
  kvDtype: 'float32' | 'float16';
  /** End-of-sequence ids (`<|im_end|>`, `<|endoftext|>`). */
  eosTokenIds: number[];
  /** Bytes of weights read per decode step (for MBU); 0 when unknown. */
  weightBytes: number;
}

export interface LayerKv {
  key: KvArray;
  value: KvArray;
}

export interface ForwardInput {
  batch: number;
  seqLen: number;
  pastLen: number;
  /** [batch, seqLen, hidden] */
  inputsEmbeds: Float32Array;
  /** [batch, pastLen + seqLen] */
  attentionMask: BigInt64Array;
  /** [batch, seqLen] */
  positionIds: BigInt64Array;
  /** One entry per layer, each [batch, kvHeads, pastLen, headDim]. */
  past: LayerKv[];
}

export interface ForwardOutput {
  /** [batch, vocab] logits of the last position of each row. */
  logits: Float32Array;
  /** One entry per layer, each [batch, kvHeads, pastLen + seqLen, headDim]. */
  present: LayerKv[];
}

export interface DecoderBackend {
  readonly info: BackendInfo;
  /** Token embeddings, [ids.length, hidden]. */
  embedTokens(ids: Int32Array): Promise<Float32Array>;
  forward(input: ForwardInput): Promise<ForwardOutput>;
  close?(): Promise<void>;
}

export function kvBytesPerToken(info: BackendInfo): number {
  const elem = info.kvDtype === 'float16' ? 2 : 4;
  return info.numLayers * 2 * info.numKvHeads * info.headDim * elem;
}

export function allocKv(info: BackendInfo, elements: number): KvArray {
  return info.kvDtype === 'float16' ? new Uint16Array(elements) : new Float32Array(elements);
}
