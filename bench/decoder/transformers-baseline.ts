/**
 * Outside baseline: drive the same decoder with @huggingface/transformers' generate(), where its
 * loader accepts our graph. It does not, as built — this reports exactly why, checked at run time:
 *  - transformers.js looks for `onnx/model.onnx` (or decoder_model_merged) taking `input_ids`;
 *    our decoder takes `inputs_embeds` (embedding is a separate stage, so visual tokens can be
 *    scattered in), and its text-LLM classes have no embed_tokens session to produce them;
 *  - its generate() slices `logits[:, -1, :]` from a [B, T, vocab] output; ours returns [B, vocab]
 *    for the last position only (the full prefill logits would be T × 152k floats).
 */
import { readFileSync } from 'node:fs';
import { readManifest } from '@tessera/model';

export async function transformersBaseline(dir: string, _prompt: Int32Array, _tokens: number, _ours: unknown, _threads: number): Promise<string> {
  let version = 'not installed at the root (only 3.0.2, an optional dependency of @lancedb/lancedb)';
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    const v = pkg.dependencies?.['@huggingface/transformers'] ?? pkg.devDependencies?.['@huggingface/transformers'];
    if (v) version = v;
  } catch { /* no root package.json */ }
  const dec = readManifest(dir).stages.decoder;
  const inputs = dec.inputs.map((i) => i.name).filter((n) => !n.startsWith('past_'));
  const logits = dec.outputs.find((o) => o.name === 'logits');
  return [
    `@huggingface/transformers: ${version}`,
    `not run: its loader cannot take this graph. Decoder inputs are [${inputs.join(', ')}] (no input_ids; embedding is the separate embed stage),`,
    `and logits are [${logits?.shape.join(', ')}] (last position only) where generate() slices logits[:, -1, :] of [batch, sequence, vocab].`,
  ].join('\n');
}
