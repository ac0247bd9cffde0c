/**
 * The XLM-R / SentencePiece-Unigram path end to end: a seeded tiny XLM-R checkpoint (generator →
 * safetensors → our ONNX graph builder) through OnnxEmbedder (@lenml/tokenizers + onnxruntime-node),
 * checked against an independent Unigram encoder and a float64 forward; and tokenizer.json files the
 * embedder cannot handle refused with the field named.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { TesseraError } from '@tessera/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceEmbedding } from './bert-reference.js';
import { openEngine } from '../../compose.js';
import { loadRetrievalConfig } from '../../config.js';
import { OnnxEmbedder } from './onnx-embedder.js';
import { tinyBertWeights } from './tiny-bert.js';
import { generateTinyXlmr, TINY_XLMR_TOKENIZER_CONFIG, tinyXlmrTokenizerJson, tinyXlmrVocab, type TinyXlmrConfig } from './tiny-xlmr.js';
import { unigramEncode, type UnigramSpec } from './unigram-reference.js';

const root = mkdtempSync(join(tmpdir(), 'tiny-xlmr-'));
const SEED = 13;
let cfg: TinyXlmrConfig;
let mean: OnnxEmbedder;
let cls: OnnxEmbedder;
const vocab = tinyXlmrVocab();
const spec: UnigramSpec = { vocab, unkId: 3, bosId: 0, eosId: 2 };
const lenml = TokenizerLoader.fromPreTrained({ tokenizerJSON: tinyXlmrTokenizerJson(vocab) as never, tokenizerConfig: TINY_XLMR_TOKENIZER_CONFIG as never });
const encode = (t: string): number[] => lenml.encode(t, { add_special_tokens: true });
const pieces = (ids: number[]) => ids.map((i) => vocab[i]![0]);

const TEXTS = [
  'Tokyo is the capital of Japan.',
  'İstanbul köprüleri ve kitapları',
  '東京は日本の首都です',
  '北京大学的学生在图书馆',
  'searching   models',
  'Ωμέγα ж and 𝔘nknown',
  'ｔｏｋｙｏ ①',
];

beforeAll(async () => {
  cfg = generateTinyXlmr(join(root, 'mean'), { seed: SEED });
  generateTinyXlmr(join(root, 'cls'), { seed: SEED, pooling: 'cls' });
  mean = await OnnxEmbedder.open(join(root, 'mean'), { batchSize: 3 });
  cls = await OnnxEmbedder.open(join(root, 'cls'), { maxTokens: 12 });
});
afterAll(async () => {
  await mean?.close();
  await cls?.close();
  rmSync(root, { recursive: true, force: true });
});

const maxAbsDiff = (a: Float32Array, b: Float64Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('tiny XLM-R (SentencePiece Unigram) + ONNX embedder', () => {
  it('Unigram tokenization equals an independent Viterbi encoder (NFKC, Metaspace, <unk> fusion)', () => {
    expect(pieces(encode('Tokyo is the capital of Japan.'))).toEqual(['<s>', '▁Tokyo', '▁is', '▁the', '▁capital', '▁of', '▁Japan', '.', '</s>']);
    expect(pieces(encode('東京は日本の首都です'))).toEqual(['<s>', '▁東京', 'は', '日本', 'の', '首都', 'です', '</s>']);
    // Three unknown characters in a row are one <unk>.
    expect(pieces(encode('Ωμέ'))).toEqual(['<s>', '▁', '<unk>', '</s>']);
    for (const t of [...TEXTS, 'kitaplarından', 'a  b   c', ' leading space', 'searched bridges', '']) expect(encode(t), t).toEqual(unigramEncode(spec, t));
  });

  it('matches a float64 XLM-R forward within 1e-5: e5 prefixes, mean and CLS pooling, batched with padding', async () => {
    const weights = tinyBertWeights(cfg, SEED);
    expect(mean.dimension).toBe(32);
    const passages = await mean.embed(TEXTS);
    const queries = await mean.embed(TEXTS, { inputType: 'query' });
    const clsRep = await cls.embed(TEXTS.slice(0, 4));
    expect(passages.batches).toBe(3);
    let worst = 0;
    TEXTS.forEach((t, i) => {
      worst = Math.max(worst, maxAbsDiff(passages.vectors[i]!, referenceEmbedding(cfg, weights, unigramEncode(spec, `passage: ${t}`), 'mean')));
      worst = Math.max(worst, maxAbsDiff(queries.vectors[i]!, referenceEmbedding(cfg, weights, unigramEncode(spec, `query: ${t}`), 'mean')));
      if (i < 4) {
        const ids = unigramEncode(spec, `passage: ${t}`);
        const cut = ids.length > 12 ? [...ids.slice(0, 11), ids[ids.length - 1]!] : ids;
        worst = Math.max(worst, maxAbsDiff(clsRep.vectors[i]!, referenceEmbedding(cfg, weights, cut, 'cls')));
      }
    });
    expect(worst).toBeLessThan(1e-5);
    expect(Math.hypot(...passages.vectors[0]!)).toBeCloseTo(1, 5);
    // The prefix matters: a query vector is not the passage vector of the same text.
    expect(maxAbsDiff(queries.vectors[0]!, Float64Array.from(passages.vectors[0]!))).toBeGreaterThan(1e-3);
  });

  it('truncates at the 64 usable positions (XLM-R positions start at pad + 1), keeping </s>', async () => {
    const long = 'the city and the river bridge '.repeat(20);
    const rep = await mean.embed([long, 'short']);
    expect(rep.truncated).toBe(1);
    const ids = unigramEncode(spec, `passage: ${long}`);
    expect(ids.length).toBeGreaterThan(64);
    const cut = [...ids.slice(0, 63), ids[ids.length - 1]!];
    expect(maxAbsDiff(rep.vectors[0]!, referenceEmbedding(cfg, tinyBertWeights(cfg, SEED), cut, 'mean'))).toBeLessThan(1e-5);
    expect(mean.countTokens('Tokyo')).toBe(3);
  });

  it('a checkpoint without an ONNX export is built from model.safetensors with our graph builder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xlmr-no-onnx-'));
    try {
      cpSync(join(root, 'mean'), dir, { recursive: true });
      rmSync(join(dir, 'onnx'), { recursive: true });
      const built = await OnnxEmbedder.open(dir, { batchSize: 3 });
      const [a, b] = [(await built.embed(TEXTS)).vectors, (await mean.embed(TEXTS)).vectors];
      await built.close();
      a.forEach((v, i) => expect(maxAbsDiff(v, Float64Array.from(b[i]!))).toBeLessThan(1e-6));
      expect(readdirSync(dir).sort()).toEqual(['1_Pooling', 'config.json', 'config_sentence_transformers.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('an embedder checkpoint with a tokenizer the embedder cannot handle', () => {
  const fieldOf = async (edit: (tj: Record<string, any>) => void, open: (dir: string) => Promise<unknown> = (dir) => OnnxEmbedder.open(dir)): Promise<{ field?: string; message: string }> => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-tok-'));
    try {
      cpSync(join(root, 'mean'), dir, { recursive: true });
      const tj = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Record<string, any>;
      edit(tj);
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tj));
      const e = await open(dir).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(TesseraError);
      const te = e as TesseraError;
      expect(te.code).toBe('INVALID_ARGUMENT');
      return { field: te.details?.field as string | undefined, message: te.message };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('is refused with INVALID_ARGUMENT naming the tokenizer.json field', async () => {
    const wordLevel = await fieldOf((tj) => (tj.model = { type: 'WordLevel', vocab: {}, unk_token: '<unk>' }));
    expect(wordLevel.field).toBe('tokenizer.json model.type');
    expect(wordLevel.message).toMatch(/"WordLevel" is not supported \(supported: WordPiece, Unigram, BPE\)/);
    expect((await fieldOf((tj) => tj.normalizer.normalizers.push({ type: 'NmtNormalizer' }))).field).toBe('tokenizer.json normalizer.normalizers[2].type');
    expect((await fieldOf((tj) => (tj.pre_tokenizer = { type: 'UnicodeScripts' }))).field).toBe('tokenizer.json pre_tokenizer.type');
    expect((await fieldOf((tj) => (tj.model.byte_fallback = true))).field).toBe('tokenizer.json model.byte_fallback');
    expect((await fieldOf((tj) => delete tj.model.type)).field).toBe('tokenizer.json model.type');
  });

  it('fails the service start (openEngine with TESSERA_RETRIEVAL_EMBEDDING_MODEL_DIR) the same way', async () => {
    const data = mkdtempSync(join(tmpdir(), 'bad-tok-data-'));
    try {
      const open = (dir: string) => openEngine(loadRetrievalConfig({ TESSERA_DATA_DIR: data, TESSERA_RETRIEVAL_EMBEDDING_MODEL_DIR: dir }));
      expect((await fieldOf((tj) => (tj.model.type = 'WordLevel'), open)).field).toBe('tokenizer.json model.type');
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
