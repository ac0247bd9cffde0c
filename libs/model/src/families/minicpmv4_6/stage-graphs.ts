/**
 * The ONNX stages of a built MiniCPM-V 4.6 model, in build order: [stage name, graph builder, tensor
 * name prefix it reads]. No resampler: the vision stage ends at the LLM width. The vision side adds its
 * graph(s) to VISION_STAGES_46; embed and decoder are the text side's.
 */
import type { GraphBuilder } from '../../onnx/graph-builder.js';
import { buildVision46Graph, MERGER46_PREFIX, VISION46_PREFIX } from '../../onnx/vision46-graph.js';
import { buildHybridDecoderGraph, DEFAULT_MAX_CHUNK } from '../../onnx/hybrid-decoder-graph.js';
import type { WeightSource } from '../../onnx/layers.js';
import type { MiniCPMV46Config } from './config.js';
import { TEXT_PREFIX } from './text-tensors.js';

export type Stage46Builder = (g: GraphBuilder, cfg: MiniCPMV46Config, w: WeightSource) => void;
export interface Stage46 {
  stage: string;
  build: Stage46Builder;
  /** Tensors this stage reads (for progress totals and the stage's fp32 size → external data or not). */
  reads: (name: string) => boolean;
  /** Graph built with the decoder weight format (int8/int4) when one is chosen. */
  quantizable?: boolean;
}

/** Vision stage (the vision side's graph: SigLIP2 + window merger + final merger, both token modes in one graph). */
export const VISION_STAGES_46: Stage46[] = [
  { stage: 'vision', build: (g, c, w) => buildVision46Graph(g, c.vision, w), reads: (n) => n.startsWith(VISION46_PREFIX) || n.startsWith(MERGER46_PREFIX) },
];

export function buildEmbedGraph46(g: GraphBuilder, cfg: MiniCPMV46Config, w: WeightSource): void {
  const t = cfg.text;
  g.input('input_ids', 'int64', ['batch', 'sequence']);
  const table = g.weight(TEXT_PREFIX + 'embed_tokens.weight', w(TEXT_PREFIX + 'embed_tokens.weight'), [t.vocabSize, t.hiddenSize]);
  g.output(g.op('Gather', [table, 'input_ids'], { axis: 0 }), 'inputs_embeds', 'float32', ['batch', 'sequence', t.hiddenSize]);
}

export const TEXT_STAGES_46: Stage46[] = [
  { stage: 'embed', build: buildEmbedGraph46, reads: (n) => n === TEXT_PREFIX + 'embed_tokens.weight' },
  {
    stage: 'decoder',
    build: (g, cfg, w) => buildHybridDecoderGraph(g, cfg.text, w, DEFAULT_MAX_CHUNK),
    reads: (n) => n.startsWith(TEXT_PREFIX) || n === 'lm_head.weight',
    quantizable: true,
  },
];

export const stages46 = (): Stage46[] => [...VISION_STAGES_46, ...TEXT_STAGES_46];
