/**
 * Sentence embeddings from an ONNX encoder in a HuggingFace directory (BERT / XLM-R family):
 * tokenizer.json (+ tokenizer_config.json) via @lenml/tokenizers, `onnx/model.onnx` or
 * `model.onnx` via onnxruntime-node, mean (attention-masked) or CLS pooling (from
 * 1_Pooling/config.json when present), L2 normalisation. Texts run `batchSize` at a time, padded
 * to the longest in the batch; longer inputs are cut to `maxTokens` keeping the final special
 * token (reported as `truncated`).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { TokenizerLoader } from '@lenml/tokenizers';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import type { EmbedReport, Embedder, InputType } from '../../domain/embedder.js';
import { buildBertOnnx } from './bert-onnx-graph.js';
import { checkTokenizerJson } from './tokenizer-check.js';

export interface OnnxEmbedderOptions {
  pooling?: 'mean' | 'cls';
  normalize?: boolean;
  /** [16] Texts per session run. */
  batchSize?: number;
  /** [512] Token limit per text (capped by max_position_embeddings). */
  maxTokens?: number;
  intraOpNumThreads?: number;
  /** Embedder id stored with collections; default "onnx-<directory name>". */
  id?: string;
  /**
   * Text prepended by input type (e5: "query: " / "passage: "). Default: the `prompts` of
   * config_sentence_transformers.json (keys query, passage or document), else none.
   */
  prefixes?: Partial<Record<InputType, string>>;
}

interface Tok {
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
}

function readJson(dir: string, file: string): Record<string, unknown> {
  const p = join(dir, file);
  if (!existsSync(p)) throw new TesseraError(ErrorCode.NOT_FOUND, `${p}: embedding model file is missing`, { field: file });
  return JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
}

export class OnnxEmbedder implements Embedder {
  readonly normalized: boolean;
  readonly kind = 'model';
  private constructor(
    readonly id: string,
    readonly dimension: number,
    private readonly session: ort.InferenceSession,
    private readonly tok: Tok,
    private readonly pooling: 'mean' | 'cls',
    normalize: boolean,
    private readonly batchSize: number,
    private readonly maxTokens: number,
    private readonly padId: number,
    private readonly wantsTypes: boolean,
    private readonly prefixes: Partial<Record<InputType, string>> = {},
  ) {
    this.normalized = normalize;
  }

  static async open(dir: string, o: OnnxEmbedderOptions = {}): Promise<OnnxEmbedder> {
    const config = readJson(dir, 'config.json');
    const tokenizerJSON = readJson(dir, 'tokenizer.json');
    const tokenizerConfig = existsSync(join(dir, 'tokenizer_config.json')) ? readJson(dir, 'tokenizer_config.json') : {};
    checkTokenizerJson(tokenizerJSON, join(dir, 'tokenizer.json'));
    const st = existsSync(join(dir, 'config_sentence_transformers.json')) ? readJson(dir, 'config_sentence_transformers.json') : {};
    const prompts = (st.prompts ?? {}) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const prefixes: Partial<Record<InputType, string>> = {
      query: o.prefixes?.query ?? str(prompts.query),
      passage: o.prefixes?.passage ?? str(prompts.passage) ?? str(prompts.document),
    };
    const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: tokenizerJSON as never, tokenizerConfig: tokenizerConfig as never }) as unknown as Tok;
    let pooling = o.pooling ?? 'mean';
    if (existsSync(join(dir, '1_Pooling', 'config.json'))) {
      const pc = readJson(dir, '1_Pooling/config.json');
      if (pc.pooling_mode_cls_token === true) pooling = 'cls';
      else if (pc.pooling_mode_mean_tokens === true) pooling = 'mean';
    }
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: o.intraOpNumThreads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      extra: { session: { 'intra_op.allow_spinning': '0' } },
    };
    const modelFile = [join(dir, 'onnx', 'model.onnx'), join(dir, 'model.onnx')].find((p) => existsSync(p));
    let session: ort.InferenceSession;
    if (modelFile) session = await ort.InferenceSession.create(modelFile, sessionOptions);
    else if (existsSync(join(dir, 'model.safetensors'))) {
      // No ONNX export (many HF repos ship safetensors only): build the encoder graph from the
      // checkpoint with our graph builder (BERT / XLM-R, F32 tensors) into a temp dir, load it, and
      // drop the files — the model directory itself stays read-only.
      const tmp = mkdtempSync(join(tmpdir(), 'tessera-embedder-'));
      try {
        buildBertOnnx(dir, join(tmp, 'model.onnx'), { externalData: true });
        session = await ort.InferenceSession.create(join(tmp, 'model.onnx'), sessionOptions);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    } else throw new TesseraError(ErrorCode.NOT_FOUND, `${dir}: no onnx/model.onnx, model.onnx or model.safetensors`, { field: 'model.onnx' });
    const hidden = Number(config.hidden_size);
    const maxPos = Number(config.max_position_embeddings ?? 512);
    // XLM-R position ids start at padding_idx + 1, so two positions are unusable.
    const usable = config.model_type === 'xlm-roberta' || config.model_type === 'roberta' ? maxPos - 2 : maxPos;
    const vocab = (tokenizerJSON.model as { vocab?: unknown } | undefined)?.vocab;
    const padToken = typeof tokenizerConfig.pad_token === 'string' ? tokenizerConfig.pad_token : '[PAD]';
    const padId = Array.isArray(vocab) ? Math.max(0, vocab.findIndex((v) => Array.isArray(v) && v[0] === padToken)) : Number((vocab as Record<string, number> | undefined)?.[padToken] ?? 0);
    return new OnnxEmbedder(
      o.id ?? `onnx-${basename(dir)}`,
      hidden,
      session,
      tok,
      pooling,
      o.normalize ?? true,
      o.batchSize ?? 16,
      Math.min(o.maxTokens ?? 512, usable),
      padId,
      session.inputNames.includes('token_type_ids'),
      prefixes,
    );
  }

  countTokens(text: string): number {
    return this.tok.encode(text, { add_special_tokens: true }).length;
  }

  async embed(texts: readonly string[], opts: { inputType?: InputType } = {}): Promise<EmbedReport> {
    const prefix = this.prefixes[opts.inputType ?? 'passage'] ?? '';
    const vectors: Float32Array[] = [];
    let truncated = 0;
    let batches = 0;
    for (let b = 0; b < texts.length; b += this.batchSize) {
      const enc = texts.slice(b, b + this.batchSize).map((t) => {
        const ids = this.tok.encode(prefix + t, { add_special_tokens: true });
        if (ids.length <= this.maxTokens) return ids;
        truncated++;
        return [...ids.slice(0, this.maxTokens - 1), ids[ids.length - 1]!];
      });
      vectors.push(...(await this.run(enc)));
      batches++;
    }
    return { vectors, truncated, batches };
  }

  private async run(enc: number[][]): Promise<Float32Array[]> {
    const B = enc.length;
    const T = Math.max(...enc.map((e) => e.length));
    const ids = new BigInt64Array(B * T).fill(BigInt(this.padId));
    const mask = new BigInt64Array(B * T);
    enc.forEach((e, i) => e.forEach((id, j) => ((ids[i * T + j] = BigInt(id)), (mask[i * T + j] = 1n))));
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', ids, [B, T]), attention_mask: new ort.Tensor('int64', mask, [B, T]) };
    if (this.wantsTypes) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(B * T), [B, T]);
    const out = await this.session.run(feeds);
    const hidden = (out.last_hidden_state ?? out[this.session.outputNames[0]!])!;
    const data = hidden.data as Float32Array;
    const H = this.dimension;
    return enc.map((e, i) => {
      const v = new Float32Array(H);
      if (this.pooling === 'cls') v.set(data.subarray(i * T * H, i * T * H + H));
      else {
        for (let j = 0; j < e.length; j++) for (let h = 0; h < H; h++) v[h]! += data[(i * T + j) * H + h]!;
        for (let h = 0; h < H; h++) v[h]! /= e.length;
      }
      if (this.normalized) {
        let n = 0;
        for (const x of v) n += x * x;
        n = Math.sqrt(n) || 1;
        for (let h = 0; h < H; h++) v[h]! /= n;
      }
      return v;
    });
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
