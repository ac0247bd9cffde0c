/**
 * Runs one stage on named arrays exactly as the graph signature names them (the CLI's run-stage).
 * bool/int32 masks and ids are widened to int64; a decoder call without past_key_values gets empty
 * caches [B, kv_heads, 0, head_dim].
 */
import * as ort from 'onnxruntime-node';
import { ErrorCode, TesseraError } from '@tessera/runtime';
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
      if (stage === 'decoder' && inp.name.startsWith('past_key_values.')) {
        const B = (inputs.inputs_embeds?.shape[0] ?? 1) as number;
        const l = model.config.llm;
        feeds[inp.name] = new ort.Tensor('float32', new Float32Array(0), [B, l.numKvHeads, 0, l.headDim]);
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
