/**
 * Opens a Hugging Face MiniCPM-V 2.6 checkpoint directory: parses config.json, the safetensors
 * headers (single file or sharded via model.safetensors.index.json), checks every expected tensor is
 * present with the shape the config implies, and checks the tokenizer and preprocessor files.
 * No weight bytes are read here; `tensor(name)` reads one tensor's byte range on demand.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { validateTokenizerJson } from '../tokenizer/tokenizer.js';
import { parseConfig, type MiniCPMVConfig } from './config.js';
import { DTYPE_BYTES, toFloat32 } from './dtype.js';
import { readSafetensorsHeader, readTensorBytes, type SafetensorsEntry } from './safetensors.js';
import { expectedTensors, numel, type Part } from './tensor-inventory.js';

export interface PartStats {
  parameters: number;
  bytes: number;
  tensors: number;
}

export interface Checkpoint {
  dir: string;
  config: MiniCPMVConfig;
  /** Every tensor the graphs use, by name (extra tensors in the files are ignored). */
  tensors: ReadonlyMap<string, SafetensorsEntry>;
  /** Safetensors files in read order. */
  weightFiles: string[];
  parts: Readonly<Record<Part, PartStats>>;
  /** Reads one tensor's bytes and widens them to float32. */
  tensor(name: string): Float32Array;
  /** Raw stored bytes of one tensor (hashing, copying). */
  tensorBytes(name: string): Uint8Array;
}

/** Files copied next to the ONNX graphs because serving needs them. */
export const SERVE_TIME_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json', 'generation_config.json', 'special_tokens_map.json', 'added_tokens.json'] as const;
export const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json'] as const;

function readJson(path: string, field: string): unknown {
  if (!existsSync(path)) throw new TesseraError(ErrorCode.NOT_FOUND, `${path}: required checkpoint file is missing`, { field, file: path });
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${path}: not valid JSON`, { field, file: path }, { cause: err });
  }
}

function listWeightFiles(dir: string): { files: string[]; weightMap?: Record<string, string> } {
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (existsSync(indexPath)) {
    const index = readJson(indexPath, 'model.safetensors.index.json') as { weight_map?: Record<string, string> };
    if (!index.weight_map || typeof index.weight_map !== 'object') {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${indexPath}: weight_map is missing`, { field: 'weight_map', file: indexPath });
    }
    const files = [...new Set(Object.values(index.weight_map))].sort();
    for (const f of files) {
      if (!existsSync(join(dir, f))) throw new TesseraError(ErrorCode.NOT_FOUND, `${f}: safetensors shard named in model.safetensors.index.json is missing from ${dir}`, { field: f, file: join(dir, f) });
    }
    return { files, weightMap: index.weight_map };
  }
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort() : [];
  if (files.length === 0) throw new TesseraError(ErrorCode.NOT_FOUND, `${dir}: no *.safetensors file and no model.safetensors.index.json`, { field: 'model.safetensors', file: dir });
  return { files };
}

export function readCheckpoint(dir: string): Checkpoint {
  if (!existsSync(dir)) throw new TesseraError(ErrorCode.NOT_FOUND, `checkpoint directory ${dir} does not exist`, { field: 'checkpoint', file: dir });
  const config = parseConfig(readJson(join(dir, 'config.json'), 'config.json'), join(dir, 'config.json'));
  readJson(join(dir, 'preprocessor_config.json'), 'preprocessor_config.json');
  readJson(join(dir, 'tokenizer_config.json'), 'tokenizer_config.json');
  validateTokenizerJson(readJson(join(dir, 'tokenizer.json'), 'tokenizer.json'), join(dir, 'tokenizer.json'));

  const { files, weightMap } = listWeightFiles(dir);
  const all = new Map<string, SafetensorsEntry>();
  for (const f of files) {
    for (const e of readSafetensorsHeader(join(dir, f))) all.set(e.name, e);
  }
  if (weightMap) {
    for (const [name, f] of Object.entries(weightMap)) {
      const e = all.get(name);
      if (!e || !e.file.endsWith(f)) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${f}: tensor ${name} is listed in model.safetensors.index.json but not in that file's header`, { field: name, file: join(dir, f) });
    }
  }

  const tensors = new Map<string, SafetensorsEntry>();
  const parts: Record<Part, PartStats> = { vpm: { parameters: 0, bytes: 0, tensors: 0 }, resampler: { parameters: 0, bytes: 0, tensors: 0 }, llm: { parameters: 0, bytes: 0, tensors: 0 } };
  for (const t of expectedTensors(config)) {
    const e = all.get(t.name);
    if (!e) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${dir}: tensor ${t.name} is missing (expected shape ${JSON.stringify(t.shape)} from config.json)`, { field: t.name, file: dir });
    if (e.shape.length !== t.shape.length || e.shape.some((d, i) => d !== t.shape[i])) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${e.file}: tensor ${t.name} has shape ${JSON.stringify(e.shape)} but config.json implies ${JSON.stringify(t.shape)}`, { field: t.name, file: e.file, expected: t.shape, actual: e.shape });
    }
    tensors.set(t.name, e);
    const p = parts[t.part];
    p.parameters += numel(t.shape);
    p.bytes += numel(t.shape) * DTYPE_BYTES[e.dtype];
    p.tensors += 1;
  }

  const entry = (name: string): SafetensorsEntry => {
    const e = tensors.get(name);
    if (!e) throw new TesseraError(ErrorCode.NOT_FOUND, `tensor ${name} is not part of this checkpoint`, { field: name });
    return e;
  };
  return {
    dir,
    config,
    tensors,
    weightFiles: files.map((f) => join(dir, f)),
    parts,
    tensor: (name) => {
      const e = entry(name);
      return toFloat32(readTensorBytes(e), e.dtype);
    },
    tensorBytes: (name) => readTensorBytes(entry(name)),
  };
}
