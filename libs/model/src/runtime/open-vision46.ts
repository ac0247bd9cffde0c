/**
 * The vision stage of a built MiniCPM-V 4.6 model directory, opened on its own (the slicer needs
 * nothing else of the model): config.json's vision part, the manifest's `vision` stage, one session.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseVision46Config, type Vision46Config } from '../checkpoint/vision46-config.js';
import { readAnyManifest, type AnyManifest } from '../manifest.js';
import type { RuntimeOptions } from './runtime-options.js';
import { StageSession } from './stage-session.js';
import { Vision46Stage } from './vision46-stage.js';

/** True when `dir` (a checkpoint or built model) holds a MiniCPM-V 4.6 config.json. */
export function isMiniCPMV46Dir(dir: string): boolean {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) return false;
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { model_type?: unknown }).model_type === 'minicpmv4_6';
  } catch {
    return false;
  }
}

export interface OpenedVision46 {
  manifest: AnyManifest;
  config: Vision46Config;
  /** config.json as read (vision_batch_size, use_image_id, …). */
  raw: Record<string, unknown>;
  vision: Vision46Stage;
  release(): Promise<void>;
}

export function openVision46(dir: string, runtimeOpts: RuntimeOptions = {}): OpenedVision46 {
  const cfgPath = join(dir, 'config.json');
  const raw = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  const config = parseVision46Config(raw, cfgPath);
  const manifest = readAnyManifest(dir);
  const batch = typeof raw.vision_batch_size === 'number' ? raw.vision_batch_size : 16;
  const vision = new Vision46Stage(new StageSession('vision', dir, manifest.stages.vision, runtimeOpts), config, batch);
  return { manifest, config, raw, vision, release: () => vision.session.release() };
}
