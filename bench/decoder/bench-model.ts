/**
 * The `bench` preset model (~420 M params, fp32), generated and built once into
 * `.tessera/models/bench-…` (same cache root and versioning as ensureTinyModel), or TESSERA_MODEL_DIR.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildModel, generateTinyCheckpoint, modelCacheRoot, TINY_MODEL_TAG } from '@tessera/model';

export async function ensureBenchModel(log: (s: string) => void = () => {}): Promise<string> {
  if (process.env.TESSERA_MODEL_DIR) return process.env.TESSERA_MODEL_DIR;
  const root = modelCacheRoot();
  const tag = TINY_MODEL_TAG.replace(/^tiny/, 'bench');
  const model = join(root, tag);
  const ckpt = join(root, `${tag}-checkpoint`);
  if (existsSync(join(model, 'manifest.json'))) return model;
  mkdirSync(root, { recursive: true });
  if (!existsSync(join(ckpt, 'config.json'))) {
    log(`generating the bench checkpoint into ${ckpt} (once)`);
    const tmp = `${ckpt}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    await generateTinyCheckpoint(tmp, { preset: 'bench', seed: 0 });
    renameSync(tmp, ckpt);
  }
  log(`building the bench model into ${model} (once)`);
  const tmp = `${model}.tmp-${process.pid}`;
  await buildModel(ckpt, tmp, { overwrite: true });
  rmSync(model, { recursive: true, force: true });
  renameSync(tmp, model);
  return model;
}

if (process.argv[1]?.endsWith('bench-model.ts')) console.log(await ensureBenchModel(console.log));
