import { readManifest, Tokenizer, type Manifest } from '@tessera/model';
import type { SlicingFamily } from '@tessera/vision';

/** What the gateway knows about the served model: its public id, revision and tokenizer. */
export interface ModelInfo {
  id: string;
  revision: string;
  manifest: Manifest;
  tokenizer: Tokenizer;
  queryNum: number;
  /** MiniCPM-V family of the built model (manifest `family`; manifests before it are 2.6). */
  family: SlicingFamily;
}

/** The family a manifest was built for: 4.6 has no resampler and per-request token modes. */
export function manifestFamily(manifest: Manifest): SlicingFamily {
  return (manifest as { family?: unknown }).family === '4.6' ? '4.6' : '2.6';
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
    family: manifestFamily(manifest),
  };
}
