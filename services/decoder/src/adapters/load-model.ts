/**
 * Opens a built model directory for the decoder, by family (manifest.json `family`): embed + paged
 * decoder sessions, the prompt tokenizer, the family's prompt assembly, eos ids and generation_config.
 *  - 2.6: KV-only paged graph, ChatML assembled in assemble-prompt.ts, 64 resampler tokens per image.
 *  - 4.6: hybrid paged graph (KV for full-attention layers, conv + recurrent state slots for Gated
 *    DeltaNet layers, ≤ manifest.decoder.maxChunk tokens per row per call), the checkpoint's own Jinja
 *    chat template with `<|image_pad|>` expansion (assemble-prompt46.ts), no resampler.
 *  - 4.5: the 2.6 graphs and layout with a Qwen3 decoder; chat through the checkpoint's Qwen3 template
 *    (assemble-prompt45.ts), `enable_thinking` from TESSERA_DECODER_ENABLE_THINKING (default false).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { FAMILIES, PagedDecoderStage, openModel, openModel46, readAnyManifest, type EmbedStage, type FamilySpec, type HybridDecoderStage, type RuntimeOptions, type Tokenizer } from '@tessera/model';
import { ortBackend, type OrtBackendModel } from './backend-ort.js';
import type { DecoderBackend } from '../domain/engine/backend.js';
import { assemblePrompt, type AssembledPrompt } from '../domain/prompt/assemble-prompt.js';
import { assemblePrompt46 } from '../domain/prompt/assemble-prompt46.js';
import { assemblePrompt45 } from '../domain/prompt/assemble-prompt45.js';
import { PromptTokenizer } from '../domain/prompt/prompt-tokenizer.js';
import type { PromptInput } from '../domain/prompt/prompt-types.js';

/** The stages the decoder runs, whatever the family. */
export interface DecoderModel {
  embed: EmbedStage;
  decoder: PagedDecoderStage;
  /** The model library's tokenizer (loaded on first access; tests decode with it). */
  readonly tokenizer: Tokenizer;
  /** 4.6 only: the explicit-cache stage over the same graph (the no-cache reference in tests). */
  hybrid?: HybridDecoderStage;
  release(): Promise<void>;
}

export interface LoadedDecoderModel {
  family: FamilySpec;
  model: DecoderModel;
  backend: DecoderBackend;
  tokenizer: PromptTokenizer;
  revision: string;
  /** Resampler queries per image (2.6: 64); 0 for a family without a resampler (4.6). */
  queryNum: number;
  /** The checkpoint's generation_config.json (sampling defaults), when the model has one. */
  generationConfig: Record<string, unknown> | undefined;
  /** Messages or raw parts + visual tokens → prompt ids and visual positions, by the family's layout. */
  assemble(input: PromptInput, limits: { maxImages: number }): AssembledPrompt;
}

export interface DecoderModelOptions {
  /** 4.5 / 4.6: `enable_thinking` passed to the chat template (default false: 4.5's generation_config and 4.6's instruct mode). */
  enableThinking?: boolean;
}

export async function loadDecoderModel(dir: string, runtime: RuntimeOptions = {}, opts: DecoderModelOptions = {}): Promise<LoadedDecoderModel> {
  const manifest = readAnyManifest(dir);
  const tokenizer = PromptTokenizer.fromJson(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
  );
  const gc = join(dir, 'generation_config.json');
  const generationConfig = existsSync(gc) ? (JSON.parse(readFileSync(gc, 'utf8')) as Record<string, unknown>) : undefined;
  let family: FamilySpec;
  let model: OrtBackendModel & DecoderModel;
  let queryNum: number;
  let assemble: LoadedDecoderModel['assemble'];
  if (manifest.family === '4.6') {
    const m = await openModel46(dir, runtime);
    await m.load(['embed', 'decoder']);
    family = m.family;
    queryNum = 0;
    const t = m.config.text;
    const paged = new PagedDecoderStage(m.sessions.decoder!);
    model = {
      modelName: m.manifest.source.name ?? m.manifest.revision.slice(0, 12),
      numLayers: t.numLayers,
      maxContext: t.maxPositionEmbeddings,
      weightBytes: m.manifest.stages.decoder!.weightBytes,
      maxQueryLength: m.manifest.decoder.maxChunk,
      embed: m.embed,
      decoder: paged,
      hybrid: m.decoder,
      get tokenizer() {
        return m.tokenizer;
      },
      release: async () => {
        paged.release(); // the KV pools' GPU memory (WebGPU); a no-op for host pools
        await m.release();
      },
    };
    const settings = { hiddenSize: t.hiddenSize, enableThinking: opts.enableThinking ?? false };
    assemble = (input, limits) => assemblePrompt46(input, tokenizer, settings, limits);
  } else {
    const m = await openModel(dir, runtime);
    await m.load(['embed', 'decoder']);
    family = FAMILIES[manifest.family ?? '2.6'];
    queryNum = m.config.resampler.queryNum;
    const l = m.config.llm;
    model = {
      modelName: m.manifest.source.name ?? m.manifest.revision.slice(0, 12),
      numLayers: l.numLayers,
      maxContext: l.maxPositionEmbeddings,
      weightBytes: m.manifest.stages.decoder.weightBytes,
      embed: m.embed,
      decoder: m.decoder,
      get tokenizer() {
        return m.tokenizer;
      },
      release: () => m.release(),
    };
    const shape = { hiddenSize: model.decoder.layout.hidden, queryNum };
    if (family.id === '4.5') {
      // 4.5: Qwen3 chat template from tokenizer_config.json, thinking off unless configured on.
      const settings = { ...shape, enableThinking: opts.enableThinking ?? false };
      assemble = (input, limits) => assemblePrompt45(input, tokenizer, settings, limits);
    } else {
      assemble = (input, limits) => assemblePrompt(input, tokenizer, shape, limits);
    }
  }
  const eos = eosTokenIds(generationConfig, tokenizer, model.decoder.layout.vocab);
  return { family, model, backend: ortBackend(model, eos), tokenizer, revision: manifest.revision, queryNum, generationConfig, assemble };
}

/**
 * End-of-sequence ids: generation_config.json's `eos_token_id` (a number or a list, as HF and vLLM read
 * it) plus the chat turn ends `<|im_end|>` and `<|endoftext|>` that every MiniCPM-V template uses — a
 * generation_config naming only one of them must not let the model run past the other.
 */
export function eosTokenIds(generationConfig: Record<string, unknown> | undefined, tok: PromptTokenizer, vocab: number): number[] {
  const raw = generationConfig?.eos_token_id;
  const fromConfig = raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw : [raw];
  fromConfig.forEach((id, i) => {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= vocab) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `generation_config.json: eos_token_id${Array.isArray(raw) ? `[${i}]` : ''} = ${JSON.stringify(id)} is not a token id in [0, ${vocab})`, { field: 'eos_token_id', file: 'generation_config.json', limit: `0 <= id < ${vocab}` });
    }
  });
  return [...new Set([...(fromConfig as number[]), tok.control('<|im_end|>'), tok.control('<|endoftext|>')])];
}
