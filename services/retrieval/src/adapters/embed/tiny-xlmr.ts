/**
 * A seeded tiny XLM-RoBERTa sentence-embedding checkpoint in the HuggingFace layout of
 * multilingual-e5 (no weights can be downloaded here): config.json (`model_type` xlm-roberta,
 * pad_token_id 1, type_vocab_size 1), model.safetensors with `XLMRobertaModel` tensor names, a
 * SentencePiece-Unigram tokenizer.json (Metaspace "▁", `<s> … </s>`, pieces with log-probabilities
 * over en / tr / ja / zh text) + tokenizer_config.json, 1_Pooling/config.json (mean),
 * config_sentence_transformers.json with e5's "query: " / "passage: " prompts, and onnx/model.onnx
 * built from the safetensors by bert-onnx-graph.ts. Random weights: deterministic, meaningless.
 *
 * Real XLM-R tokenizer.json files normalise with `Precompiled` (sentencepiece's nmt_nfkc
 * charsmap, a binary trie we cannot generate faithfully); this one uses the NFKC it amounts to
 * for the characters here, plus XLM-R's collapse of space runs.
 */
import { tinyBertWeights, type TinyBertConfig } from './tiny-bert.js';
import { addedToken, mulberry32, templateProcessing, writeEncoderCheckpoint } from './tiny-encoder.js';

export interface TinyXlmrConfig extends TinyBertConfig {
  model_type: 'xlm-roberta';
  pad_token_id: number;
}

export interface TinyXlmrOptions {
  seed?: number;
  hidden?: number;
  layers?: number;
  heads?: number;
  pooling?: 'mean' | 'cls';
  /** [true] Write e5's query / passage prompts to config_sentence_transformers.json. */
  prompts?: boolean;
}

const M = '\u2581';
const SPECIALS = ['<s>', '<pad>', '</s>', '<unk>'];
/** Whole words (with the word-start marker), by language; sentencepiece keeps case. */
const WORDS = [
  'the a of is in and to for with capital city Tokyo Japan Paris model models search book books cat dog question answer river bridge station',
  'bir ve bu için ile kitap kitaplar okul köprü İstanbul Ankara şehir başkent',
  '東京 日本 首都 京都 大学 北京 学生 中国 图书馆 図書館',
].flatMap((l) => l.split(' ').map((w) => M + w));
/** Pieces that continue a word (no marker): suffixes, Turkish morphology, CJK words and kana. */
const PIECES = 'ing s ed er ly es ion lar ler ları leri da de dan den yor um ı i in ın un ün sı si nı ni です でしょう ます した 東京 日本 首都 大学 北京 学生 的 是 在 了'.split(' ');
const CHARS = Array.from(
  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZçğıöşüÇĞİÖŞÜ0123456789.,!?;:\'"()-' +
    '。、！？，東京日本首都駅世界新宿大学学習自然語言処理中国北的是在了人我们今天晴雨猫図書館图书馆はのにをがでしょうすまたいる',
);

/**
 * [piece, log-probability] in id order, XLM-R's layout: `<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3,
 * pieces, `<mask>` last. Scores: "▁" −3, whole words −6…−8, continuation pieces −7…−9, single
 * characters −10…−11, each with a seeded jitter so no two segmentations tie.
 */
export function tinyXlmrVocab(seed = 5): Array<[string, number]> {
  const r = mulberry32(seed);
  const seen = new Set<string>(SPECIALS);
  const vocab: Array<[string, number]> = SPECIALS.map((s) => [s, 0]);
  const add = (piece: string, base: number) => {
    if (seen.has(piece)) return;
    seen.add(piece);
    vocab.push([piece, base - 2 * r()]);
  };
  add(M, -2);
  for (const w of WORDS) add(w, -6);
  for (const p of PIECES) add(p, -7);
  for (const c of CHARS) add(c, -10);
  vocab.push(['<mask>', 0]);
  return vocab;
}

export function tinyXlmrTokenizerJson(vocab: ReadonlyArray<readonly [string, number]>): Record<string, unknown> {
  const idOf = (p: string) => vocab.findIndex(([q]) => q === p);
  const metaspace = { type: 'Metaspace', replacement: M, add_prefix_space: true, prepend_scheme: 'always', split: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...SPECIALS, '<mask>'].map((t) => addedToken(idOf(t), t, t === '<mask>')),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
    pre_tokenizer: metaspace,
    post_processor: templateProcessing({ token: '<s>', id: idOf('<s>') }, { token: '</s>', id: idOf('</s>') }, 'roberta'),
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: idOf('<unk>'), vocab, byte_fallback: false },
  };
}

export const TINY_XLMR_TOKENIZER_CONFIG = Object.freeze({
  tokenizer_class: 'XLMRobertaTokenizer',
  bos_token: '<s>',
  eos_token: '</s>',
  sep_token: '</s>',
  cls_token: '<s>',
  unk_token: '<unk>',
  pad_token: '<pad>',
  mask_token: '<mask>',
  model_max_length: 64,
});

/** Writes the checkpoint directory and its ONNX graph; returns the config. */
export function generateTinyXlmr(dir: string, opts: TinyXlmrOptions = {}): TinyXlmrConfig {
  const vocab = tinyXlmrVocab();
  const hidden = opts.hidden ?? 32;
  const cfg: TinyXlmrConfig = {
    model_type: 'xlm-roberta',
    pad_token_id: 1,
    vocab_size: vocab.length,
    hidden_size: hidden,
    num_hidden_layers: opts.layers ?? 2,
    num_attention_heads: opts.heads ?? 4,
    intermediate_size: hidden * 2,
    // 64 usable positions: XLM-R's start at pad_token_id + 1.
    max_position_embeddings: 66,
    type_vocab_size: 1,
    layer_norm_eps: 1e-5,
  };
  writeEncoderCheckpoint(dir, {
    config: { architectures: ['XLMRobertaModel'], _name_or_path: 'tessera-tiny-xlmr', bos_token_id: 0, eos_token_id: 2, hidden_act: 'gelu', position_embedding_type: 'absolute', ...cfg },
    tokenizerJson: tinyXlmrTokenizerJson(vocab),
    tokenizerConfig: TINY_XLMR_TOKENIZER_CONFIG,
    hidden,
    pooling: opts.pooling ?? 'mean',
    ...((opts.prompts ?? true) && { sentenceTransformers: { prompts: { query: 'query: ', passage: 'passage: ' }, default_prompt_name: null, similarity_fn_name: 'cosine' } }),
    weights: tinyBertWeights(cfg, opts.seed ?? 7),
  });
  return cfg;
}
