import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceEmbedding } from './bert-reference.js';
import { HashingEmbedder } from './hashing-embedder.js';
import { OnnxEmbedder } from './onnx-embedder.js';
import { generateTinyBert, tinyBertTokenizerJson, tinyBertVocab, tinyBertWeights, type TinyBertConfig } from './tiny-bert.js';

const root = mkdtempSync(join(tmpdir(), 'tiny-bert-'));
let cfg: TinyBertConfig;
let mean: OnnxEmbedder;
let cls: OnnxEmbedder;

beforeAll(async () => {
  cfg = generateTinyBert(join(root, 'mean'), { seed: 11 });
  generateTinyBert(join(root, 'cls'), { seed: 11, pooling: 'cls' });
  mean = await OnnxEmbedder.open(join(root, 'mean'), { batchSize: 2, maxTokens: 12 });
  cls = await OnnxEmbedder.open(join(root, 'cls'));
});
afterAll(async () => {
  await mean?.close();
  await cls?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('tiny BERT generator + ONNX embedder', () => {
  it('WordPiece tokenizer: specials, sub-words, CJK characters, unknowns', () => {
    const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: tinyBertTokenizerJson(tinyBertVocab()) as never, tokenizerConfig: { tokenizer_class: 'BertTokenizer', do_lower_case: true } as never });
    const toks = (t: string) => tok.encode(t, { add_special_tokens: true }).map((i: number) => tinyBertVocab()[i]);
    expect(toks('Tokyo is the capital')).toEqual(['[CLS]', 'tokyo', 'is', 'the', 'capital', '[SEP]']);
    expect(toks('searching')).toEqual(['[CLS]', 'search', '##ing', '[SEP]']);
    expect(toks('東京')).toEqual(['[CLS]', '東', '京', '[SEP]']);
  });

  it('matches a float64 reference forward (mean and CLS pooling), batched with padding', async () => {
    const texts = ['Tokyo is the capital of Japan.', 'ramen', 'a cat and a dog in the rain'];
    const weights = tinyBertWeights(cfg, 11);
    const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: tinyBertTokenizerJson(tinyBertVocab()) as never, tokenizerConfig: { tokenizer_class: 'BertTokenizer' } as never });
    const rep = await mean.embed(texts);
    expect(rep.batches).toBe(2);
    expect(mean.dimension).toBe(32);
    const clsRep = await cls.embed(texts);
    texts.forEach((t, i) => {
      const ids = tok.encode(t, { add_special_tokens: true });
      const ref = referenceEmbedding(cfg, weights, ids, 'mean');
      const refCls = referenceEmbedding(cfg, weights, ids, 'cls');
      for (let h = 0; h < 32; h++) {
        expect(rep.vectors[i]![h]).toBeCloseTo(ref[h]!, 4);
        expect(clsRep.vectors[i]![h]).toBeCloseTo(refCls[h]!, 4);
      }
    });
    expect(Math.hypot(...rep.vectors[0]!)).toBeCloseTo(1, 5);
  });

  it('reports truncation and keeps the final [SEP]', async () => {
    const long = 'the cat and the dog '.repeat(10);
    const rep = await mean.embed([long, 'short']);
    expect(rep.truncated).toBe(1);
    const weights = tinyBertWeights(cfg, 11);
    const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: tinyBertTokenizerJson(tinyBertVocab()) as never, tokenizerConfig: { tokenizer_class: 'BertTokenizer' } as never });
    const ids = tok.encode(long, { add_special_tokens: true });
    const cut = [...ids.slice(0, 11), ids[ids.length - 1]!];
    const ref = referenceEmbedding(cfg, weights, cut, 'mean');
    for (let h = 0; h < 32; h++) expect(rep.vectors[0]![h]).toBeCloseTo(ref[h]!, 4);
  });
});

describe('HashingEmbedder', () => {
  it('is deterministic, normalised, and ranks lexical overlap across languages', async () => {
    const e = new HashingEmbedder({ dimension: 256 });
    const [q, a, b, c, d] = (await e.embed(['İstanbul köprüsü', 'istanbul köprüleri ve boğaz', 'tokyo station', '北京大学的学生', '我们在北京大学学习'])).vectors;
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    expect(dot(q!, q!)).toBeCloseTo(1, 5);
    expect(dot(q!, a!)).toBeGreaterThan(dot(q!, b!) + 0.2);
    expect(dot(c!, d!)).toBeGreaterThan(dot(c!, b!) + 0.2);
    expect(Array.from(e.embedOne('same text'))).toEqual(Array.from(e.embedOne('same text')));
    expect(Math.hypot(...e.embedOne('...'))).toBeCloseTo(1, 5);
  });
});
