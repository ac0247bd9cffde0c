/**
 * Outside baseline: the same decoder weights driven by @huggingface/transformers' generate().
 * Its text-LLM loader needs `input_ids` in and `[B, T, vocab]` logits out; ours take
 * `inputs_embeds` and return `[B, vocab]`, so transformers-graph.ts re-wires the edges
 * (Gather + our decoder nodes + Unsqueeze), same weights, no recomputation.
 */
import { join } from 'node:path';
import { AutoModelForCausalLM, Tensor, env } from '@huggingface/transformers';
import { buildTransformersJsModel } from './transformers-graph.js';

export interface BaselineResult {
  tokenIds: number[];
  /** Wall time of generate(max_new_tokens = 1): prefill + first token. */
  ttftS: number;
  /** Decode tokens/s: (n − 1) / (t(n) − t(1)). */
  decodeTokS: number;
  endToEndTokS: number;
}

export async function transformersBaseline(modelDir: string, prompt: Int32Array, tokens: number, threads: number): Promise<BaselineResult> {
  const root = join(modelDir, '..');
  const name = `${modelDir.split('/').pop()}-transformersjs`;
  buildTransformersJsModel(modelDir, join(root, name));
  env.allowRemoteModels = false;
  env.localModelPath = root + '/';
  const model = await AutoModelForCausalLM.from_pretrained(name, {
    dtype: 'fp32',
    device: 'cpu',
    local_files_only: true,
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1, extra: { session: { 'intra_op.allow_spinning': '0' } } },
  } as never);
  const ids = new Tensor('int64', BigInt64Array.from(prompt, (t) => BigInt(t)), [1, prompt.length]);
  const mask = new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]);
  const gen = async (n: number): Promise<{ s: number; out: number[] }> => {
    const t = performance.now();
    const r = (await model.generate({ input_ids: ids, attention_mask: mask, max_new_tokens: n, min_new_tokens: n, do_sample: false } as never)) as { data: BigInt64Array };
    return { s: (performance.now() - t) / 1000, out: Array.from(r.data.slice(prompt.length), Number) };
  };
  await gen(1); // warm-up
  const one = await gen(1);
  const all = await gen(tokens);
  await model.dispose();
  return { tokenIds: all.out, ttftS: one.s, decodeTokS: (tokens - 1) / (all.s - one.s), endToEndTokS: tokens / all.s };
}
