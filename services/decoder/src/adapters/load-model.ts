/** Opens a built model directory for the decoder: embed + decoder sessions, prompt tokenizer. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openModel, type Model, type RuntimeOptions } from '@tessera/model';
import { ortBackend } from './backend-ort.js';
import type { DecoderBackend } from '../domain/engine/backend.js';
import { PromptTokenizer } from '../domain/prompt/prompt-tokenizer.js';

export interface LoadedDecoderModel {
  model: Model;
  backend: DecoderBackend;
  tokenizer: PromptTokenizer;
  revision: string;
  queryNum: number;
  /** The checkpoint's generation_config.json (sampling defaults), when the model has one. */
  generationConfig: Record<string, unknown> | undefined;
}

export async function loadDecoderModel(dir: string, runtime: RuntimeOptions = {}): Promise<LoadedDecoderModel> {
  const model = await openModel(dir, runtime);
  await model.load(['embed', 'decoder']);
  const tokenizer = PromptTokenizer.fromJson(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
  );
  const eos = [tokenizer.control('<|im_end|>'), tokenizer.control('<|endoftext|>')];
  const gc = join(dir, 'generation_config.json');
  const generationConfig = existsSync(gc) ? (JSON.parse(readFileSync(gc, 'utf8')) as Record<string, unknown>) : undefined;
  return { model, backend: ortBackend(model, eos), tokenizer, revision: model.manifest.revision, queryNum: model.config.resampler.queryNum, generationConfig };
}
