/**
 * `manifest.json` of a built model directory: what was built from which checkpoint, and each
 * stage's file and I/O signature. Services read it to check compatibility before loading weights.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, TesseraError } from '@tessera/runtime';
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

export function readManifest(dir: string): Manifest {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) throw new TesseraError(ErrorCode.NOT_FOUND, `${path}: manifest.json is missing (not a built model directory; run \`tessera model build\`)`, { field: 'manifest.json', file: path });
  const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  if (m.format !== MANIFEST_FORMAT || m.formatVersion !== MANIFEST_FORMAT_VERSION) {
    throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `${path}: format ${m.format}@${m.formatVersion} is not supported (expected ${MANIFEST_FORMAT}@${MANIFEST_FORMAT_VERSION})`, { field: 'format', file: path });
  }
  return m;
}
