/**
 * run-stage for the 4.6 text stages with the cache as explicit arrays (HF layouts), so the stages can be
 * checked against any independent implementation:
 *   embed:   input_ids [B, T] → inputs_embeds [B, T, hidden]
 *   decoder: inputs_embeds [B, T, hidden] (or input_ids [B, T], embedded first), and optionally the state
 *            of a previous call:
 *              past_key_values.{i}.key|value [B, kv_heads, P, head_dim]   full-attention layers i
 *              conv_state.{i}               [B, conv_dim, K−1]           Gated DeltaNet layers i (oldest row first)
 *              recurrent_state.{i}          [B, Hv, d_k, d_v]
 *            → logits [B, vocab] (last position) and the state after the call under the SAME names
 *              (KV grown to P + T), so the output file minus `logits` is the next call's state:
 *              no state = prefill from position 0; T = 1 with state = one decode step.
 * Prompts longer than decoder.maxChunk run as consecutive chunks (the result is the same).
 */
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { NdArray } from '../npy.js';
import type { HybridCache } from './hybrid-decoder-stage.js';
import { openModel46 } from './open-any-model.js';
import type { RuntimeOptions } from './runtime-options.js';

const f32 = (a: NdArray): Float32Array => (a.dtype === 'float32' ? (a.data as Float32Array) : Float32Array.from(a.data as ArrayLike<number>));
const ints = (a: NdArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number);

function need(name: string, a: NdArray | undefined, shape: number[]): NdArray {
  if (!a) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `decoder stage: input ${name} is missing (expected ${JSON.stringify(shape)})`, { field: name });
  if (a.shape.length !== shape.length || a.shape.some((d, i) => d !== shape[i])) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `decoder stage: input ${name} has shape ${JSON.stringify(a.shape)}, expected ${JSON.stringify(shape)}`, { field: name, expected: shape, actual: a.shape });
  }
  return a;
}

export async function runHybridTextStageRaw(dir: string, stage: 'embed' | 'decoder', inputs: Record<string, NdArray>, opts: RuntimeOptions = {}): Promise<Record<string, NdArray>> {
  const model = await openModel46(dir, opts);
  try {
    const t = model.manifest.config.text;
    const H = t.hiddenSize;
    const embedIds = async (a: NdArray): Promise<{ data: Float32Array; B: number; T: number }> => {
      if (a.shape.length !== 2) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `input_ids must be [batch, sequence] (got ${JSON.stringify(a.shape)})`, { field: 'input_ids' });
      const [B, T] = a.shape as [number, number];
      return { data: await model.embed.run(ints(a), [B, T]), B, T };
    };
    if (stage === 'embed') {
      const e = await embedIds(need('input_ids', inputs.input_ids, inputs.input_ids?.shape ?? [1, 1]));
      return { inputs_embeds: { dtype: 'float32', shape: [e.B, e.T, H], data: e.data } };
    }
    let emb: { data: Float32Array; B: number; T: number };
    if (inputs.inputs_embeds) {
      const [B, T] = inputs.inputs_embeds.shape as [number, number];
      emb = { data: f32(need('inputs_embeds', inputs.inputs_embeds, [B, T, H])), B, T };
    } else if (inputs.input_ids) emb = await embedIds(inputs.input_ids);
    else throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'decoder stage: inputs_embeds (or input_ids) is missing', { field: 'inputs_embeds' });
    const { B, T } = emb;
    const dec = model.decoder;
    // Explicit state → the wrapper's cache (KV [B, kv, P, hd] → [kv, B, P, hd]).
    const full = t.layerTypes.flatMap((l, i) => (l === 'full_attention' ? [i] : []));
    const P = full.length && inputs[`past_key_values.${full[0]}.key`] ? inputs[`past_key_values.${full[0]}.key`].shape[2] : 0;
    const cache: HybridCache = dec.emptyCache(B);
    cache.lengths = new Array<number>(B).fill(P);
    cache.capacity = P;
    const convDim = 2 * t.linearNumKeyHeads * t.linearKeyHeadDim + t.linearNumValueHeads * t.linearValueHeadDim;
    const kvShape = [B, t.numKvHeads, P, t.headDim];
    const toPool = (a: Float32Array): Float32Array => {
      const out = new Float32Array(a.length);
      const n = P * t.headDim;
      for (let b = 0; b < B; b++) for (let h = 0; h < t.numKvHeads; h++) out.set(a.subarray((b * t.numKvHeads + h) * n, (b * t.numKvHeads + h + 1) * n), (h * B + b) * n);
      return out;
    };
    cache.layers.forEach((l, i) => {
      if (l.kind === 'full') {
        if (P === 0) return;
        l.key = toPool(f32(need(`past_key_values.${i}.key`, inputs[`past_key_values.${i}.key`], kvShape)));
        l.value = toPool(f32(need(`past_key_values.${i}.value`, inputs[`past_key_values.${i}.value`], kvShape)));
      } else {
        if (inputs[`conv_state.${i}`]) l.conv = f32(need(`conv_state.${i}`, inputs[`conv_state.${i}`], [B, convDim, t.linearConvKernel - 1])).slice();
        if (inputs[`recurrent_state.${i}`]) l.recurrent = f32(need(`recurrent_state.${i}`, inputs[`recurrent_state.${i}`], [B, t.linearNumValueHeads, t.linearKeyHeadDim, t.linearValueHeadDim])).slice();
      }
    });
    const r = await dec.prefill({ inputsEmbeds: emb.data, batch: B, seq: T, past: cache });
    const S = P + T;
    const out: Record<string, NdArray> = { logits: { dtype: 'float32', shape: [B, t.vocabSize], data: r.logits } };
    r.present.layers.forEach((l, i) => {
      if (l.kind === 'full') {
        // [kv, B, capacity = S, hd] → [B, kv, S, hd]
        const back = (a: Float32Array): Float32Array => {
          const o = new Float32Array(B * t.numKvHeads * S * t.headDim);
          const n = S * t.headDim;
          for (let b = 0; b < B; b++) for (let h = 0; h < t.numKvHeads; h++) o.set(a.subarray((h * B + b) * n, (h * B + b + 1) * n), (b * t.numKvHeads + h) * n);
          return o;
        };
        out[`past_key_values.${i}.key`] = { dtype: 'float32', shape: [B, t.numKvHeads, S, t.headDim], data: back(l.key) };
        out[`past_key_values.${i}.value`] = { dtype: 'float32', shape: [B, t.numKvHeads, S, t.headDim], data: back(l.value) };
      } else {
        out[`conv_state.${i}`] = { dtype: 'float32', shape: [B, convDim, t.linearConvKernel - 1], data: l.conv };
        out[`recurrent_state.${i}`] = { dtype: 'float32', shape: [B, t.linearNumValueHeads, t.linearKeyHeadDim, t.linearValueHeadDim], data: l.recurrent };
      }
    });
    return out;
  } finally {
    await model.release();
  }
}
