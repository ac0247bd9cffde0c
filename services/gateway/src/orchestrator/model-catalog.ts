import { readManifest, Tokenizer, type Manifest } from '@tessera/model';

/** What the gateway knows about the served model: its public id, revision and tokenizer. */
export interface ModelInfo {
  id: string;
  revision: string;
  manifest: Manifest;
  tokenizer: Tokenizer;
  queryNum: number;
}

/**
 * Reads the built model directory's manifest and tokenizer (a few MB, no weights): the gateway
 * needs the revision for cache keys and the tokenizer to reserve prompt tokens against quotas.
 */
export function loadModelInfo(modelDir: string, modelId: string): ModelInfo {
  const manifest = readManifest(modelDir);
  return {
    id: modelId,
    revision: manifest.revision,
    manifest,
    tokenizer: Tokenizer.fromDir(modelDir),
    queryNum: manifest.config.resampler.queryNum,
  };
}
