/**
 * `manifest.json` of a built model directory: what was built from which checkpoint, and each
 * stage's file and I/O signature. Services read it to check compatibility before loading weights.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { FamilyId } from './families/registry.js';
import type { ValueSig } from './onnx/graph-builder.js';

export const MANIFEST_FORMAT = 'tessera.minicpmv.onnx';
export const MANIFEST_FORMAT_VERSION = 1;
export type StageName = 'vision' | 'resampler' | 'embed' | 'decoder';
export const STAGES: readonly StageName[] = ['vision', 'resampler', 'embed', 'decoder'];

export interface StageManifest {
  file: string;
  /** External weight file next to `file`, or null when weights are inline. */
  externalData: string | null;
  inputs: ValueSig[];
  outputs: ValueSig[];
  parameters: number;
  weightBytes: number;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  /** Absent in manifests built before families existed (= 2.6). 4.5 shares this layout (Qwen3 decoder). */
  family?: '2.6' | '4.5';
  /** sha256 over config.json, tokenizer files and every tensor (name, dtype, shape, bytes). */
  revision: string;
  architecture: 'MiniCPMV';
  version: number;
  /** 'fp32', or 'decoder-int8' / 'decoder-int4' when the decoder's linears are MatMulNBits. */
  precision: 'fp32' | 'decoder-int8' | 'decoder-int4';
  source: { checkpoint: string; name: string | null };
  config: {
    llm: { hiddenSize: number; numLayers: number; numHeads: number; numKvHeads: number; headDim: number; vocabSize: number; ropeTheta: number; intermediateSize: number };
    vision: { hiddenSize: number; numLayers: number; numHeads: number; patchSize: number; positionsPerSide: number };
    resampler: { queryNum: number; embedDim: number; numHeads: number };
    sliceImageSize: number;
    maxSliceNums: number;
    useImageId: boolean;
  };
  stages: Record<StageName, StageManifest>;
  /** Serve-time files copied from the checkpoint (tokenizer, configs). */
  files: string[];
}

/**
 * A built MiniCPM-V 4.6 model: no resampler; `decoder` is the hybrid graph (KV for full-attention
 * layers + conv / recurrent state for Gated DeltaNet layers) fed at most `maxChunk` tokens per call.
 */
export interface Manifest46 {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  family: '4.6';
  revision: string;
  architecture: string;
  precision: 'fp32' | 'decoder-int8' | 'decoder-int4';
  source: { checkpoint: string; name: string | null };
  config: {
    text: {
      hiddenSize: number;
      numLayers: number;
      layerTypes: string[];
      numHeads: number;
      numKvHeads: number;
      headDim: number;
      rotaryDim: number;
      ropeTheta: number;
      vocabSize: number;
      intermediateSize: number;
      linearNumKeyHeads: number;
      linearNumValueHeads: number;
      linearKeyHeadDim: number;
      linearValueHeadDim: number;
      linearConvKernel: number;
    };
    vision: { hiddenSize: number; numLayers: number; numHeads: number; patchSize: number; positionsPerSide: number; insertLayerId: number };
    downsampleMode: '16x' | '4x';
    imageTokenId: number;
  };
  /** decoder.maxChunk: most new tokens per decoder call (the chunked Gated DeltaNet's exactness bound). */
  decoder: { maxChunk: number };
  stages: Record<string, StageManifest>;
  files: string[];
}
export type AnyManifest = Manifest | Manifest46;
export const manifestFamily = (m: AnyManifest): FamilyId => m.family ?? '2.6';

/** Reads manifest.json of any family (4.6 or 2.6). */
export function readAnyManifest(dir: string): AnyManifest {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) throw new TesseraError(ErrorCode.NOT_FOUND, `${path}: manifest.json is missing (not a built model directory; run \`tessera model build\`)`, { field: 'manifest.json', file: path });
  const m = JSON.parse(readFileSync(path, 'utf8')) as AnyManifest;
  if (m.format !== MANIFEST_FORMAT || m.formatVersion !== MANIFEST_FORMAT_VERSION) {
    throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `${path}: format ${m.format}@${m.formatVersion} is not supported (expected ${MANIFEST_FORMAT}@${MANIFEST_FORMAT_VERSION})`, { field: 'format', file: path });
  }
  return m;
}

/** Reads a 2.6-layout manifest (2.6, 4.5); a model of another family is refused naming it (its stages differ). */
export function readManifest(dir: string): Manifest {
  const m = readAnyManifest(dir);
  if (m.family === '4.6') {
    throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `${join(dir, 'manifest.json')}: family ${m.family} model; this caller serves the 2.6 layout (2.6, 4.5) only (open it with openAnyModel)`, { field: 'family', file: join(dir, 'manifest.json') });
  }
  return m;
}
