/**
 * Opens a built model directory: manifest, config, tokenizer (loaded on first access — ~3 s for
 * the 151k-entry Qwen BPE, and the vision-only services never need it) and lazily created stage sessions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type MiniCPMVConfig } from '../checkpoint/config.js';
import { readManifest, type Manifest, type StageName } from '../manifest.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import type { RuntimeOptions } from './runtime-options.js';
import { StageSession } from './stage-session.js';
import { PagedDecoderStage } from './paged-decoder.js';
import { EmbedStage, ResamplerStage, VisionStage } from './stages.js';

export interface Model {
  dir: string;
  manifest: Manifest;
  config: MiniCPMVConfig;
  /** The serving tokenizer (loaded on first access, then cached per directory). */
  readonly tokenizer: Tokenizer;
  vision: VisionStage;
  resampler: ResamplerStage;
  embed: EmbedStage;
  /** The paged decoder (KV pools + state slots allocated by the caller, see paged-decoder.ts). */
  decoder: PagedDecoderStage;
  /** Creates the named stage sessions now (default all). */
  load(stages?: StageName[]): Promise<void>;
  release(): Promise<void>;
}

const tokenizers = new Map<string, Tokenizer>();
export function loadTokenizer(dir: string): Tokenizer {
  let t = tokenizers.get(dir);
  if (!t) {
    t = Tokenizer.fromDir(dir);
    tokenizers.set(dir, t);
  }
  return t;
}

export async function openModel(dir: string, runtimeOpts: RuntimeOptions = {}): Promise<Model> {
  const manifest = readManifest(dir);
  const config = parseConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), join(dir, 'config.json'));
  const sessions = {} as Record<StageName, StageSession>;
  for (const s of ['vision', 'resampler', 'embed', 'decoder'] as const) sessions[s] = new StageSession(s, dir, manifest.stages[s], runtimeOpts);
  const visionBatch = typeof config.raw.vision_batch_size === 'number' ? config.raw.vision_batch_size : 16;
  const decoder = new PagedDecoderStage(sessions.decoder);
  return {
    dir,
    manifest,
    config,
    get tokenizer() {
      return loadTokenizer(dir);
    },
    vision: new VisionStage(sessions.vision, config, visionBatch),
    resampler: new ResamplerStage(sessions.resampler, config),
    embed: new EmbedStage(sessions.embed, config.llm.vocabSize),
    decoder,
    async load(stages = ['vision', 'resampler', 'embed', 'decoder']) {
      await Promise.all(stages.map((s) => sessions[s].load()));
    },
    async release() {
      decoder.release(); // the KV pools' GPU memory (WebGPU); a no-op for host pools
      await Promise.all(Object.values(sessions).map((s) => s.release()));
    },
  };
}
