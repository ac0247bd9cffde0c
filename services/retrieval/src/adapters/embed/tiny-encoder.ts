/**
 * What the tiny checkpoint generators (tiny-bert.ts: BERT + WordPiece, tiny-xlmr.ts: XLM-R +
 * SentencePiece-Unigram) share: the seeded PRNG, the tokenizer.json pieces both layouts have
 * (added-token entries, the `TemplateProcessing` post-processor), and writing the directory —
 * config.json, tokenizer files, 1_Pooling/config.json, model.safetensors, onnx/model.onnx built by
 * bert-onnx-graph.ts. Each generator keeps only its vocabulary, normaliser and config fields.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '@tessera/model';
import { buildBertOnnx } from './bert-onnx-graph.js';

/** mulberry32: a small seeded PRNG, uniform in [0, 1). Also the benches' (same sequence everywhere). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An `added_tokens` entry of tokenizer.json. */
export const addedToken = (id: number, content: string, lstrip = false) => ({ id, content, single_word: false, lstrip, rstrip: false, normalized: false, special: true });

/**
 * `TemplateProcessing` for `cls A sep` (single) and the pair layout: BERT `cls A sep B sep` with B
 * as type 1; RoBERTa / XLM-R `cls A sep sep B sep`, all type 0.
 */
export function templateProcessing(cls: { token: string; id: number }, sep: { token: string; id: number }, pair: 'bert' | 'roberta'): Record<string, unknown> {
  const special = (t: string, typeId = 0) => ({ SpecialToken: { id: t, type_id: typeId } });
  const seq = (id: 'A' | 'B', typeId = 0) => ({ Sequence: { id, type_id: typeId } });
  return {
    type: 'TemplateProcessing',
    single: [special(cls.token), seq('A'), special(sep.token)],
    pair:
      pair === 'bert'
        ? [special(cls.token), seq('A'), special(sep.token), seq('B', 1), special(sep.token, 1)]
        : [special(cls.token), seq('A'), special(sep.token), special(sep.token), seq('B'), special(sep.token)],
    special_tokens: {
      [cls.token]: { id: cls.token, ids: [cls.id], tokens: [cls.token] },
      [sep.token]: { id: sep.token, ids: [sep.id], tokens: [sep.token] },
    },
  };
}

export interface EncoderCheckpoint {
  config: Record<string, unknown>;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  hidden: number;
  pooling: 'mean' | 'cls';
  /** config_sentence_transformers.json, when the model has prompts. */
  sentenceTransformers?: Record<string, unknown>;
  weights: Map<string, { shape: number[]; data: Float32Array }>;
}

/** Writes an HF sentence-embedding directory and its ONNX graph. */
export function writeEncoderCheckpoint(dir: string, c: EncoderCheckpoint): void {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  mkdirSync(join(dir, '1_Pooling'), { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c.config, null, 2));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(c.tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(c.tokenizerConfig));
  writeFileSync(join(dir, '1_Pooling', 'config.json'), JSON.stringify({ word_embedding_dimension: c.hidden, pooling_mode_cls_token: c.pooling === 'cls', pooling_mode_mean_tokens: c.pooling === 'mean' }));
  if (c.sentenceTransformers) writeFileSync(join(dir, 'config_sentence_transformers.json'), JSON.stringify(c.sentenceTransformers));
  writeSafetensors(
    join(dir, 'model.safetensors'),
    [...c.weights].map(([name, w]) => ({ name, dtype: 'F32' as const, shape: w.shape, bytes: () => new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength) })),
  );
  buildBertOnnx(dir, join(dir, 'onnx', 'model.onnx'));
}
