/**
 * A seeded tiny BERT sentence-embedding checkpoint in the HuggingFace layout, for tests, the demo
 * and benchmarks (no weights can be downloaded here): config.json, model.safetensors with BERT's
 * tensor names, a WordPiece tokenizer.json (+ tokenizer_config.json), 1_Pooling/config.json, and
 * onnx/model.onnx built from the safetensors by bert-onnx-graph.ts. Random weights: the vectors
 * are deterministic but carry no meaning.
 */
import { addedToken, mulberry32, templateProcessing, writeEncoderCheckpoint } from './tiny-encoder.js';

export interface TinyBertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
}

export interface TinyBertOptions {
  seed?: number;
  hidden?: number;
  layers?: number;
  heads?: number;
  pooling?: 'mean' | 'cls';
}

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const WORDS = (
  'the a an of to in is are was and or for on with as by at from it this that be has have not ' +
  'capital city country japan tokyo paris france turkey istanbul river bridge station world ' +
  'noodle soup ramen food tea cat dog water rain sun day night book model search vector text ' +
  'retrieval document query answer question language learn learning machine'
).split(' ');
const PIECES = ['s', 'ing', 'ed', 'er', 'ly', 'es', 'ion'];
// A few hundred CJK and kana characters would be realistic; a handful keeps the vocab tiny. Others → [UNK].
const CJK = Array.from('東京日本首都駅世界新宿大学学習自然語言処理中国北的是在了人我们今天晴雨猫はのにをがですでしょう');

export function tinyBertVocab(): string[] {
  const letters = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const punct = Array.from('.,!?;:\'"()-。、！？，');
  const vocab = [...SPECIALS, ...punct, ...Array.from(letters), ...Array.from(letters, (c) => `##${c}`), ...WORDS, ...PIECES.map((p) => `##${p}`), ...CJK];
  return [...new Set(vocab)];
}

export function tinyBertTokenizerJson(vocab: readonly string[]): Record<string, unknown> {
  const ids: Record<string, number> = Object.fromEntries(vocab.map((t, i) => [t, i]));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((t) => addedToken(ids[t]!, t)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: templateProcessing({ token: '[CLS]', id: ids['[CLS]']! }, { token: '[SEP]', id: ids['[SEP]']! }, 'bert'),
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: ids },
  };
}

/** Tensor name → [shape, values] in HF BERT naming (Linear weights are [out, in]); normal draws via Box–Muller. */
export function tinyBertWeights(cfg: TinyBertConfig, seed: number): Map<string, { shape: number[]; data: Float32Array }> {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const H = cfg.hidden_size;
  const I = cfg.intermediate_size;
  const t = (name: string, shape: number[], init: 'normal' | 'ones' | 'small') => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = init === 'ones' ? 1 + 0.05 * normal() : init === 'small' ? 0.02 * normal() : 0.2 * normal();
    out.set(name, { shape, data });
  };
  t('embeddings.word_embeddings.weight', [cfg.vocab_size, H], 'normal');
  t('embeddings.position_embeddings.weight', [cfg.max_position_embeddings, H], 'normal');
  t('embeddings.token_type_embeddings.weight', [cfg.type_vocab_size, H], 'normal');
  t('embeddings.LayerNorm.weight', [H], 'ones');
  t('embeddings.LayerNorm.bias', [H], 'small');
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}`;
    for (const m of ['query', 'key', 'value']) {
      t(`${p}.attention.self.${m}.weight`, [H, H], 'normal');
      t(`${p}.attention.self.${m}.bias`, [H], 'small');
    }
    t(`${p}.attention.output.dense.weight`, [H, H], 'normal');
    t(`${p}.attention.output.dense.bias`, [H], 'small');
    t(`${p}.attention.output.LayerNorm.weight`, [H], 'ones');
    t(`${p}.attention.output.LayerNorm.bias`, [H], 'small');
    t(`${p}.intermediate.dense.weight`, [I, H], 'normal');
    t(`${p}.intermediate.dense.bias`, [I], 'small');
    t(`${p}.output.dense.weight`, [H, I], 'normal');
    t(`${p}.output.dense.bias`, [H], 'small');
    t(`${p}.output.LayerNorm.weight`, [H], 'ones');
    t(`${p}.output.LayerNorm.bias`, [H], 'small');
  }
  return out;
}

/** Writes the checkpoint directory and its ONNX graph; returns the config. */
export function generateTinyBert(dir: string, opts: TinyBertOptions = {}): TinyBertConfig {
  const vocab = tinyBertVocab();
  const hidden = opts.hidden ?? 32;
  const cfg: TinyBertConfig = {
    vocab_size: vocab.length,
    hidden_size: hidden,
    num_hidden_layers: opts.layers ?? 2,
    num_attention_heads: opts.heads ?? 4,
    intermediate_size: hidden * 2,
    max_position_embeddings: 64,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
  };
  writeEncoderCheckpoint(dir, {
    config: { architectures: ['BertModel'], model_type: 'bert', _name_or_path: 'tessera-tiny-bert', hidden_act: 'gelu', ...cfg },
    tokenizerJson: tinyBertTokenizerJson(vocab),
    tokenizerConfig: { tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: cfg.max_position_embeddings, cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]' },
    hidden,
    pooling: opts.pooling ?? 'mean',
    weights: tinyBertWeights(cfg, opts.seed ?? 7),
  });
  return cfg;
}
