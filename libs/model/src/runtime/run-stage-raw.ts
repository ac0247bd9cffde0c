/**
 * Runs one stage on named arrays exactly as the graph signature names them (the CLI's run-stage).
 * bool/int32 masks and ids are widened to int64. A decoder call given only inputs_embeds (and
 * position_ids) runs as a prefill from position 0: past_lengths 0, query_lengths T, a one-block
 * zero KV pool per layer and zeroed state slots.
 */
import * as ort from 'onnxruntime-node';
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { StageName } from '../manifest.js';
import type { NdArray } from '../npy.js';
import type { Model } from './open-model.js';

function toTensor(name: string, a: NdArray, want: string): ort.Tensor {
  if (want === 'float32') {
    if (a.dtype === 'float32') return new ort.Tensor('float32', a.data as Float32Array, a.shape);
    if (a.dtype === 'float64') return new ort.Tensor('float32', Float32Array.from(a.data as Float64Array), a.shape);
  }
  if (want === 'int64') {
    if (a.dtype === 'int64') return new ort.Tensor('int64', a.data as BigInt64Array, a.shape);
    if (a.dtype === 'int32' || a.dtype === 'bool' || a.dtype === 'uint8') return new ort.Tensor('int64', BigInt64Array.from(Array.from(a.data as Int32Array, (v) => BigInt(v))), a.shape);
  }
  throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `input ${name}: dtype ${a.dtype} cannot feed a ${want} input`, { field: name });
}

export async function runStageRaw(model: Model, stage: StageName, inputs: Record<string, NdArray>): Promise<Record<string, NdArray>> {
  const sig = model.manifest.stages[stage];
  const feeds: Record<string, ort.Tensor> = {};
  for (const inp of sig.inputs) {
    const a = inputs[inp.name];
    if (!a) {
      const d = stage === 'decoder' ? decoderDefault(inp.name, inp.shape, inputs) : undefined;
      if (d) {
        feeds[inp.name] = d;
        continue;
      }
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${stage} stage: input ${inp.name} is missing (expected ${inp.dtype} ${JSON.stringify(inp.shape)})`, { field: inp.name });
    }
    feeds[inp.name] = toTensor(inp.name, a, inp.dtype);
  }
  const session = { vision: model.vision, resampler: model.resampler, embed: model.embed, decoder: model.decoder }[stage].session;
  const out = await session.runFeeds(feeds);
  const result: Record<string, NdArray> = {};
  for (const [name, t] of Object.entries(out)) {
    result[name] = { dtype: t.type === 'int64' ? 'int64' : 'float32', shape: [...t.dims], data: t.data as Float32Array };
  }
  return result;
}

/** Prefill-from-scratch defaults for the paged decoder's cache inputs. */
function decoderDefault(name: string, shape: (number | string)[], inputs: Record<string, NdArray>): ort.Tensor | undefined {
  const [B = 1, T = 1] = (inputs.inputs_embeds?.shape ?? [1, 1]) as number[];
  const zerosI64 = (n: number, dims: number[]): ort.Tensor => new ort.Tensor('int64', new BigInt64Array(n), dims);
  if (name === 'past_lengths' || name === 'state_slots') return zerosI64(B, [B]);
  if (name === 'query_lengths') return new ort.Tensor('int64', new BigInt64Array(B).fill(BigInt(T)), [B]);
  if (name === 'block_tables') return zerosI64(B, [B, 1]);
  if (name === 'logits_indices') return new ort.Tensor('int64', BigInt64Array.from({ length: B }, (_, b) => BigInt(b * T + T - 1)), [B]);
  if (name === 'position_ids') {
    const pos = new BigInt64Array(B * T);
    for (let i = 0; i < pos.length; i++) pos[i] = BigInt(i % T);
    return new ort.Tensor('int64', pos, [B, T]);
  }
  if (/^(key|value)_cache\./.test(name)) {
    const dims = [shape[0] as number, 1, 1, shape[3] as number];
    return new ort.Tensor('float32', new Float32Array(dims[0]! * dims[3]!), dims);
  }
  if (name.startsWith('state.')) {
    const dims = [B, ...shape.slice(1).map(Number)];
    return new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
  }
  return undefined;
}
