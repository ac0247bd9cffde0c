/**
 * Token embedding: input_ids int64 [B, T] → inputs_embeds float32 [B, T, hidden]. A separate stage so
 * the decoder service can scatter image embeddings into the `<unk>` slots before prefill.
 */
import type { MiniCPMVConfig } from '../checkpoint/config.js';
import type { GraphBuilder, ValueSig } from './graph-builder.js';
import type { WeightSource } from './layers.js';

export function embedSignature(cfg: MiniCPMVConfig): { inputs: ValueSig[]; outputs: ValueSig[] } {
  return {
    inputs: [{ name: 'input_ids', dtype: 'int64', shape: ['batch', 'sequence'] }],
    outputs: [{ name: 'inputs_embeds', dtype: 'float32', shape: ['batch', 'sequence', cfg.llm.hiddenSize] }],
  };
}

export function buildEmbedGraph(g: GraphBuilder, cfg: MiniCPMVConfig, w: WeightSource): void {
  const sig = embedSignature(cfg);
  g.input('input_ids', 'int64', sig.inputs[0].shape);
  const table = g.weight('llm.embed_tokens.weight', w('llm.model.embed_tokens.weight'), [cfg.llm.vocabSize, cfg.llm.hiddenSize]);
  g.output(g.op('Gather', [table, 'input_ids'], { axis: 0 }), 'inputs_embeds', 'float32', sig.outputs[0].shape);
}
