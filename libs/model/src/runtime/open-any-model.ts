/**
 * Opens a built model of any family. 2.6 → `openModel` (vision, resampler, embed, decoder); 4.6 →
 * `Model46`: embed + the hybrid decoder (+ the vision stage once the vision side adds it), no resampler.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig46, type MiniCPMV46Config } from '../families/minicpmv4_6/config.js';
import { FAMILIES, type FamilySpec } from '../families/registry.js';
import { readAnyManifest, type Manifest46 } from '../manifest.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { HybridDecoderStage } from './hybrid-decoder-stage.js';
import { loadTokenizer, openModel, type Model } from './open-model.js';
import type { RuntimeOptions } from './runtime-options.js';
import { StageSession } from './stage-session.js';
import { EmbedStage } from './stages.js';
import { Vision46Stage } from './vision46-stage.js';

export interface Model46 {
  family: FamilySpec & { id: '4.6' };
  dir: string;
  manifest: Manifest46;
  config: MiniCPMV46Config;
  readonly tokenizer: Tokenizer;
  /** The vision stage (both token modes); absent in a text-only build. */
  vision: Vision46Stage | undefined;
  embed: EmbedStage;
  decoder: HybridDecoderStage;
  /** Stage sessions by name (vision stages included when built). */
  sessions: Record<string, StageSession>;
  load(stages?: string[]): Promise<void>;
  release(): Promise<void>;
}

export type AnyModel = (Model & { family: FamilySpec & { id: '2.6' | '4.5' } }) | Model46;

export async function openModel46(dir: string, runtimeOpts: RuntimeOptions = {}): Promise<Model46> {
  const manifest = readAnyManifest(dir);
  if (manifest.family !== '4.6') throw new Error(`${dir}: not a MiniCPM-V 4.6 model (family ${manifest.family ?? '2.6'})`);
  const config = parseConfig46(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), join(dir, 'config.json'));
  const sessions: Record<string, StageSession> = {};
  for (const [name, st] of Object.entries(manifest.stages)) sessions[name] = new StageSession(name, dir, st, runtimeOpts);
  return {
    family: FAMILIES['4.6'] as FamilySpec & { id: '4.6' },
    dir,
    manifest,
    config,
    get tokenizer() {
      return loadTokenizer(dir);
    },
    vision: sessions.vision ? new Vision46Stage(sessions.vision, config.vision) : undefined,
    embed: new EmbedStage(sessions.embed, config.text.vocabSize),
    decoder: new HybridDecoderStage(sessions.decoder, manifest.config.text, manifest.decoder.maxChunk),
    sessions,
    async load(stages = Object.keys(sessions)) {
      await Promise.all(stages.map((s) => sessions[s].load()));
    },
    async release() {
      await Promise.all(Object.values(sessions).map((s) => s.release()));
    },
  };
}

/** Dispatches on manifest.json's family. */
export async function openAnyModel(dir: string, runtimeOpts: RuntimeOptions = {}): Promise<AnyModel> {
  const m = readAnyManifest(dir);
  if (m.family === '4.6') return openModel46(dir, runtimeOpts);
  const model = await openModel(dir, runtimeOpts);
  return Object.assign(model, { family: FAMILIES[m.family ?? '2.6'] as FamilySpec & { id: '2.6' | '4.5' } });
}
