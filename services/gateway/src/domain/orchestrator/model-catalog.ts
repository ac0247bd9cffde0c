import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { manifestFamily as familyOf, parseConfig, parseConfig46, readAnyManifest, Tokenizer, type AnyManifest, type FamilyId } from '@tessera/model/text';
import type { SlicingFamily, TokenMode } from '@tessera/vision';
import { FAMILY_SLICING } from '@tessera/vision';

/** What the gateway knows about the served model: its public id, revision and tokenizer. */
export interface ModelInfo {
  id: string;
  revision: string;
  manifest: AnyManifest;
  tokenizer: Tokenizer;
  /** Resampler queries per image (2.6: 64); 0 for a family without a resampler (4.6). */
  queryNum: number;
  /**
   * The checkpoint's MiniCPM-V family as model lists show it (2.6, 4.5, 4.6; manifests before families are 2.6).
   * Slicing and the image pipeline follow `slicingFamily(family)` (4.5 keeps the 2.6 layout).
   */
  family: FamilyId;
  /** Token modes a request may choose (`mm_processor_kwargs.downsample_mode`); empty for 2.6. */
  downsampleModes: readonly TokenMode[];
  /** The model's slicing defaults (slice side, default max_slice_nums, patch size). */
  slicing: { scaleResolution: number; maxSliceNums: number; patchSize: number };
  /** tokenizer_config.json as the model directory has it (GET /tokenizer_info). */
  tokenizerConfig: Readonly<Record<string, unknown>>;
  /** config.json's max_position_embeddings: the decoder's context is the smaller of it and TESSERA_DECODER_MAX_CONTEXT. */
  maxPositionEmbeddings: number;
}

/** Slicing / pipeline family of a model family: 4.6 (no resampler, token modes) or 2.6 (also 4.5's layout). */
export function slicingFamily(family: FamilyId): SlicingFamily {
  return family === '4.6' ? '4.6' : '2.6';
}

/**
 * Reads the built model directory's manifest, config and tokenizer (a few MB, no weights): the gateway
 * needs the revision for cache keys, the tokenizer to reserve prompt tokens against quotas and to
 * serve /tokenize, and the context length for /tokenize's max_model_len.
 */
export function loadModelInfo(modelDir: string, modelId: string): ModelInfo {
  const manifest = readAnyManifest(modelDir);
  const family = familyOf(manifest);
  const read = (file: string): Record<string, unknown> => JSON.parse(readFileSync(join(modelDir, file), 'utf8'));
  const tokenizer = Tokenizer.fromDir(modelDir);
  const checkpoint = read('config.json');
  const common = { id: modelId, revision: manifest.revision, manifest, tokenizer, family, downsampleModes: FAMILY_SLICING[slicingFamily(family)].modes, tokenizerConfig: Object.freeze(read('tokenizer_config.json')) };
  if (manifest.family === '4.6') {
    // HF 4.6 processor defaults: 448-px slices, up to 9 of them, patch 14 (minicpmv4x.md §2).
    return { ...common, queryNum: 0, slicing: { scaleResolution: 448, maxSliceNums: 9, patchSize: manifest.config.vision.patchSize }, maxPositionEmbeddings: parseConfig46(checkpoint).text.maxPositionEmbeddings };
  }
  const c = manifest.config;
  return { ...common, queryNum: c.resampler.queryNum, slicing: { scaleResolution: c.sliceImageSize, maxSliceNums: c.maxSliceNums, patchSize: c.vision.patchSize }, maxPositionEmbeddings: parseConfig(checkpoint).llm.maxPositionEmbeddings };
}
