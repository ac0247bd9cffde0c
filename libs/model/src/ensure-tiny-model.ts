/**
 * Generates and builds the tiny model once per machine into `<repo>/.tessera/models/` (gitignored) and
 * returns the built directory. Parallel vitest workers and processes serialise on a lock directory
 * (mkdir is atomic); a lock whose owner process is gone is taken over. The directory name carries the
 * generator and graph versions, so changing either rebuilds.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModel } from './build-model.js';
import { GENERATOR_VERSION, GENERATOR_VERSION_45, generateTinyCheckpoint } from './generate/generate-checkpoint.js';
import type { Preset } from './generate/presets.js';
import type { FamilyId } from './families/registry.js';

/** Bump when the graphs change in a way that needs a rebuild. 3: the decoder takes `logits_indices` (prompt logprobs); 4: it returns `logits_lse`. */
export const GRAPH_VERSION = 4;
/** 4.6 models get their own graph version (the hybrid decoder changes independently of 2.6); 4: the stand-in tokenizer gained the tools section and non-special tool/think tags; 5: the decoder takes `logits_indices`; 6: it returns `logits_lse`. */
export const GRAPH_VERSION_46 = 6;
export const presetModelTag = (preset: Preset, family: FamilyId = '2.6'): string =>
  family === '2.6'
    ? `${preset}-g${GENERATOR_VERSION}-b${GRAPH_VERSION}`
    : family === '4.5'
      ? `${preset}-v45-g${GENERATOR_VERSION}.${GENERATOR_VERSION_45}-b${GRAPH_VERSION}`
      : `${preset}-v46-g${GENERATOR_VERSION}-b${GRAPH_VERSION_46}`;
export const TINY_MODEL_TAG = presetModelTag('tiny');
export const TINY_SEED = 0;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** `TESSERA_MODEL_CACHE` overrides the cache root (default `<repo>/.tessera/models`). */
export const modelCacheRoot = (): string => process.env.TESSERA_MODEL_CACHE ?? join(REPO_ROOT, '.tessera', 'models');

export interface TinyModelPaths {
  model: string;
  checkpoint: string;
}

const memo = new Map<string, Promise<TinyModelPaths>>();

/** Built tiny model directory (manifest.json, *.onnx, tokenizer files). */
export async function ensureTinyModel(): Promise<string> {
  return (await ensureTinyModelPaths()).model;
}

/** Both the built model and the checkpoint it was built from (reference tests read the weights). */
export function ensureTinyModelPaths(): Promise<TinyModelPaths> {
  return ensurePresetModelPaths('tiny');
}

/** The tiny MiniCPM-V 4.6 model (hybrid decoder) and its checkpoint. */
export function ensureTinyModel46Paths(): Promise<TinyModelPaths> {
  return ensurePresetModelPaths('tiny', '4.6');
}

/** The tiny MiniCPM-V 4.5 model (2.6 layout, Qwen3 decoder with q_norm / k_norm) and its checkpoint. */
export function ensureTinyModel45Paths(): Promise<TinyModelPaths> {
  return ensurePresetModelPaths('tiny', '4.5');
}

/** Same for any preset (`bench`: ~420 M parameters, ~1 min to generate and build once) and family. */
export function ensurePresetModelPaths(preset: Preset, family: FamilyId = '2.6'): Promise<TinyModelPaths> {
  const root = modelCacheRoot();
  const key = `${root}\0${preset}\0${family}`;
  let p = memo.get(key);
  if (!p) {
    p = ensure(root, preset, family).catch((err) => {
      memo.delete(key);
      throw err;
    });
    memo.set(key, p);
  }
  return p;
}

const ready = (paths: TinyModelPaths): boolean => existsSync(join(paths.model, 'manifest.json')) && existsSync(join(paths.checkpoint, 'config.json'));

async function ensure(root: string, preset: Preset, family: FamilyId): Promise<TinyModelPaths> {
  const tag = presetModelTag(preset, family);
  const paths = { model: join(root, tag), checkpoint: join(root, `${tag}-checkpoint`) };
  if (ready(paths)) return paths;
  mkdirSync(root, { recursive: true });
  const lock = join(root, `${tag}.lock`);
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    if (ready(paths)) return paths;
    if (tryLock(lock)) break;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (remove it if no build is running)`);
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    if (ready(paths)) return paths;
    if (!existsSync(join(paths.checkpoint, 'config.json'))) {
      const tmp = `${paths.checkpoint}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      await generateTinyCheckpoint(tmp, { family, preset, seed: TINY_SEED, shards: preset === 'tiny' ? 2 : 4 });
      rmSync(paths.checkpoint, { recursive: true, force: true });
      renameSync(tmp, paths.checkpoint);
    }
    await buildModel(paths.checkpoint, paths.model, { overwrite: true });
    return paths;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function tryLock(lock: string): boolean {
  try {
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), String(process.pid));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // Take over a lock whose owner died (or that is older than 10 minutes).
  try {
    const pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    let alive = Number.isInteger(pid) && pid > 0;
    if (alive) {
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
    }
    if (!alive || Date.now() - statSync(lock).mtimeMs > 10 * 60_000) rmSync(lock, { recursive: true, force: true });
  } catch {
    // pid file not written yet: the owner is between mkdir and write; wait.
  }
  return false;
}
