/**
 * The previous engine's single-stream path, for "no regression" ratios in the same run: the
 * contiguous-KV decoder graph (`past_key_values`/`present`, buildModel `decoderGraph: 'contiguous'`)
 * driven as the old engine did for one stream — prefill B = 1, then every decode step feeds the whole
 * `present` back as `past` (the binding copies the grown cache out of onnxruntime each step).
 */
import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { argmaxRow, buildModel, openModel, readManifest, type Model } from '@tessera/model';

export async function contiguousModelDir(modelDir: string): Promise<string> {
  const out = `${modelDir}-contiguous`;
  if (!existsSync(`${out}/manifest.json`)) {
    const man = readManifest(modelDir);
    const weights = man.precision === 'fp32' ? 'fp32' : man.precision === 'decoder-int8' ? 'int8' : 'int4';
    await buildModel(man.source.checkpoint, out, { decoderGraph: 'contiguous', decoderWeights: weights, overwrite: true });
  }
  return out;
}

export interface LegacyRun {
  prefillS: number;
  decodeTokS: number;
  tokenIds: number[];
}

/** Greedy: prefill `prompt`, then `tokens − 1` cached decode steps. */
export async function legacySingleStream(model: Model, prompt: Int32Array, tokens: number): Promise<LegacyRun> {
  const session = await model.decoder.session.load();
  const l = model.config.llm;
  const H = l.hiddenSize;
  const V = l.vocabSize;
  const kv = (len: number, data?: Float32Array[]): Record<string, ort.Tensor> => {
    const f: Record<string, ort.Tensor> = {};
    for (let i = 0; i < l.numLayers; i++) {
      f[`past_key_values.${i}.key`] = new ort.Tensor('float32', data?.[2 * i] ?? new Float32Array(0), [1, l.numKvHeads, len, l.headDim]);
      f[`past_key_values.${i}.value`] = new ort.Tensor('float32', data?.[2 * i + 1] ?? new Float32Array(0), [1, l.numKvHeads, len, l.headDim]);
    }
    return f;
  };
  const run = async (embeds: Float32Array, past: number, T: number, cache?: Float32Array[]) => {
    const S = past + T;
    const out = (await session.run({
      inputs_embeds: new ort.Tensor('float32', embeds, [1, T, H]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: T }, (_, t) => BigInt(past + t)), [1, T]),
      ...kv(past, cache),
    })) as Record<string, ort.Tensor>;
    const present: Float32Array[] = [];
    for (let i = 0; i < l.numLayers; i++) present.push(out[`present.${i}.key`]!.data as Float32Array, out[`present.${i}.value`]!.data as Float32Array);
    return { logits: out.logits!.data as Float32Array, present };
  };
  const t0 = performance.now();
  let r = await run(await model.embed.run(prompt, [1, prompt.length]), 0, prompt.length);
  const prefillS = (performance.now() - t0) / 1000;
  const ids = [argmaxRow(r.logits, 0, V)];
  const t1 = performance.now();
  for (let i = 1; i < tokens; i++) {
    r = await run(await model.embed.run([ids[ids.length - 1]!], [1, 1]), prompt.length + i - 1, 1, r.present);
    ids.push(argmaxRow(r.logits, 0, V));
  }
  const decodeS = (performance.now() - t1) / 1000;
  return { prefillS, decodeTokS: (tokens - 1) / decodeS, tokenIds: ids };
}

export const openContiguous = async (dir: string, threads: number): Promise<Model> => {
  const m = await openModel(dir, { intraOpNumThreads: threads });
  await m.load(['embed', 'decoder']);
  return m;
};
