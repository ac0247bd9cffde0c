/**
 * BERT-family encoder (HF `BertModel` / `XLMRobertaModel` tensor names, post-LN, GELU-erf) → ONNX,
 * from config.json + model.safetensors (F32), with @tessera/model's GraphBuilder. Output
 * `last_hidden_state` [batch, seq, hidden]; pooling happens outside the graph (onnx-embedder.ts),
 * as in sentence-transformers exports.
 *
 * BERT (`model_type` bert): inputs `input_ids`, `attention_mask`, `token_type_ids` [batch, seq]
 * int64; positions 0, 1, 2, ….
 * XLM-R / RoBERTa (`model_type` xlm-roberta | roberta): inputs `input_ids`, `attention_mask` (what
 * optimum exports for this family); positions as HF's `create_position_ids_from_input_ids`:
 * padding_idx + cumsum(id ≠ pad) on real tokens, padding_idx on padding — so they start at
 * pad_token_id + 1 (= 2) and two rows of the position table are never used; the single token-type
 * row 0 is added to every token.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { GraphBuilder, WeightSink, f, readSafetensorsHeader, readTensorBytes } from '@tessera/model';

interface BertDims {
  model_type?: string;
  pad_token_id?: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  layer_norm_eps: number;
}

/**
 * Writes `outFile` (the graph) and, with `externalData`, `<outFile>.data` (the weights: ONNX
 * protobuf is capped at 2 GB, so a checkpoint like bge-m3's 568M F32 parameters only fits that way).
 * Returns the graph file's byte length.
 */
export function buildBertOnnx(checkpointDir: string, outFile: string, opts: { externalData?: boolean } = {}): number {
  const cfg = JSON.parse(readFileSync(join(checkpointDir, 'config.json'), 'utf8')) as BertDims;
  const entries = new Map(readSafetensorsHeader(join(checkpointDir, 'model.safetensors')).map((e) => [e.name.replace(/^(bert|roberta)\./, ''), e]));
  const roberta = cfg.model_type === 'xlm-roberta' || cfg.model_type === 'roberta';
  if (cfg.model_type !== undefined && cfg.model_type !== 'bert' && !roberta) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `config.json: model_type ${JSON.stringify(cfg.model_type)} is not supported by the encoder graph builder (supported: bert, xlm-roberta, roberta)`, {
      field: 'config.json model_type',
      limit: 'bert | xlm-roberta | roberta',
    });
  }
  const tensor = (name: string): { data: Float32Array; shape: number[] } => {
    const e = entries.get(name);
    if (!e) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `model.safetensors lacks ${name}`, { field: name });
    if (e.dtype !== 'F32') throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${name} is ${e.dtype}; the BERT graph builder reads F32 only`, { field: name });
    const b = readTensorBytes(e);
    return { data: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), shape: e.shape };
  };
  const H = cfg.hidden_size;
  const heads = cfg.num_attention_heads;
  const dh = H / heads;
  const sink = new WeightSink(opts.externalData ? `${outFile}.data` : null);
  const g = new GraphBuilder('bert', sink);
  const w = (name: string) => {
    const t = tensor(name);
    return g.weight(name, t.data, t.shape);
  };
  /** Linear with an HF [out, in] weight: stored transposed ([in, out]) so MatMul needs no Transpose. */
  const linear = (x: string, prefix: string) => {
    const t = tensor(`${prefix}.weight`);
    const [out, inp] = t.shape as [number, number];
    const tr = new Float32Array(out * inp);
    for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) tr[i * out + o] = t.data[o * inp + i]!;
    return g.op('Add', [g.op('MatMul', [x, g.weight(`${prefix}.weight_t`, tr, [inp, out])]), w(`${prefix}.bias`)]);
  };
  const layerNorm = (x: string, prefix: string) => g.op('LayerNormalization', [x, w(`${prefix}.weight`), w(`${prefix}.bias`)], { axis: -1, epsilon: f(cfg.layer_norm_eps) });

  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'seq']);
  let positions: string;
  let typeEmbedding: string;
  if (roberta) {
    const pad = cfg.pad_token_id ?? 1;
    const real = g.op('Cast', [g.op('Not', [g.op('Equal', [ids, g.scalarI64(pad)])])], { to: 7 });
    positions = g.op('Add', [g.op('Mul', [g.op('CumSum', [real, g.scalarI64(1)]), real]), g.scalarI64(pad)]);
    typeEmbedding = g.op('Gather', [w('embeddings.token_type_embeddings.weight'), g.scalarI64(0)], { axis: 0 });
  } else {
    const types = g.input('token_type_ids', 'int64', ['batch', 'seq']);
    const seqLen = g.op('Gather', [g.op('Shape', [ids]), g.scalarI64(1)], { axis: 0 });
    positions = g.op('Range', [g.scalarI64(0), seqLen, g.scalarI64(1)]);
    typeEmbedding = g.op('Gather', [w('embeddings.token_type_embeddings.weight'), types], { axis: 0 });
  }
  let x = g.op('Add', [
    g.op('Add', [g.op('Gather', [w('embeddings.word_embeddings.weight'), ids], { axis: 0 }), g.op('Gather', [w('embeddings.position_embeddings.weight'), positions], { axis: 0 })]),
    typeEmbedding,
  ]);
  x = layerNorm(x, 'embeddings.LayerNorm');
  // Additive mask [batch, 1, 1, seq]: 0 where attended, -1e9 on padding.
  const maskF = g.op('Cast', [g.op('Unsqueeze', [mask, g.constI64([1, 2])])], { to: 1 });
  const maskBias = g.op('Mul', [g.op('Sub', [g.scalarF32(1), maskF]), g.scalarF32(-1e9)]);
  const splitShape = g.constI64([0, 0, heads, dh]);
  const mergeShape = g.constI64([0, 0, H]);
  const scale = g.scalarF32(1 / Math.sqrt(dh));
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}`;
    g.withScope(p, () => {
      const headsOf = (t: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [t, splitShape])], { perm });
      const q = headsOf(linear(x, `${p}.attention.self.query`), [0, 2, 1, 3]);
      const k = headsOf(linear(x, `${p}.attention.self.key`), [0, 2, 3, 1]);
      const v = headsOf(linear(x, `${p}.attention.self.value`), [0, 2, 1, 3]);
      const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, k]), scale]), maskBias]);
      const ctx = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v])], { perm: [0, 2, 1, 3] }), mergeShape]);
      const attn = layerNorm(g.op('Add', [linear(ctx, `${p}.attention.output.dense`), x]), `${p}.attention.output.LayerNorm`);
      const hIn = linear(attn, `${p}.intermediate.dense`);
      // GELU (erf form, BERT's "gelu"): 0.5·x·(1 + erf(x/√2)); opset 17 has no Gelu op.
      const gelu = g.op('Mul', [g.op('Mul', [hIn, g.scalarF32(0.5)]), g.op('Add', [g.scalarF32(1), g.op('Erf', [g.op('Mul', [hIn, g.scalarF32(Math.SQRT1_2)])])])]);
      x = layerNorm(g.op('Add', [linear(gelu, `${p}.output.dense`), attn]), `${p}.output.LayerNorm`);
    });
  }
  g.output(x, 'last_hidden_state', 'float32', ['batch', 'seq', H]);
  try {
    return g.save(outFile, roberta ? 'tessera XLM-R encoder' : 'tessera BERT encoder');
  } finally {
    sink.close();
  }
}
