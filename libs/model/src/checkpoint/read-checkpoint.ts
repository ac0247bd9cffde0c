/**
 * Opens a Hugging Face MiniCPM-V 2.6 checkpoint directory: parses config.json, the safetensors
 * headers (single file or sharded via model.safetensors.index.json), checks every expected tensor is
 * present with the shape the config implies, and checks the tokenizer and preprocessor files.
 * No weight bytes are read here; `tensor(name)` reads one tensor's byte range on demand.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { validateTokenizerJson } from '../tokenizer/tokenizer.js';
import { parseConfig46, type MiniCPMV46Config } from '../families/minicpmv4_6/config.js';
import { expectedTensors46 } from '../families/minicpmv4_6/tensors.js';
import { detectFamily, type FamilyId } from '../families/registry.js';
import { parseConfig, type MiniCPMVConfig } from './config.js';
import { DTYPE_BYTES, toFloat32 } from './dtype.js';
import { readSafetensorsHeader, readTensorBytes, type SafetensorsEntry } from './safetensors.js';
import { expectedTensors, numel, type ExpectedTensor, type Part } from './tensor-inventory.js';

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
  parts: Readonly<Record<'vpm' | 'resampler' | 'llm', PartStats>>;
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
  const cfgPath = join(dir, 'config.json');
  const raw = readJson(cfgPath, 'config.json');
  const family = detectFamily(raw, cfgPath);
  // 4.5 shares 2.6's layout (Qwen3 decoder flags in LlmConfig); 4.6 has its own reader.
  if (family.id === '4.6') {
    throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `${cfgPath}: model_type ${JSON.stringify((raw as { model_type?: unknown }).model_type)} is ${family.name}; this caller reads 2.6 / 4.5 checkpoints only (use readAnyCheckpoint)`, { field: 'model_type', file: cfgPath });
  }
  const config = parseConfig(raw, cfgPath);
  checkServeFiles(dir, family.id);
  const t = openTensors(dir, expectedTensors(config), ['vpm', 'resampler', 'llm']);
  return { dir, config, ...t } as Checkpoint;
}

/** A MiniCPM-V 4.6 checkpoint: same lazy tensor access, the 4.6 config and parts (vpm = tower + mergers, llm). */
export interface Checkpoint46 extends Omit<Checkpoint, 'config' | 'parts'> {
  family: '4.6';
  config: MiniCPMV46Config;
  parts: Readonly<Record<'vpm' | 'llm', PartStats>>;
}
export type AnyCheckpoint = (Checkpoint & { family: '2.6' | '4.5' }) | Checkpoint46;

/** Reads a checkpoint of any supported family (dispatch on config.json, families/registry.ts). */
export function readAnyCheckpoint(dir: string): AnyCheckpoint {
  if (!existsSync(dir)) throw new TesseraError(ErrorCode.NOT_FOUND, `checkpoint directory ${dir} does not exist`, { field: 'checkpoint', file: dir });
  const cfgPath = join(dir, 'config.json');
  const raw = readJson(cfgPath, 'config.json');
  const family = detectFamily(raw, cfgPath);
  if (family.id !== '4.6') return { ...readCheckpoint(dir), family: family.id };
  const config = parseConfig46(raw, cfgPath);
  checkServeFiles(dir, '4.6');
  const t = openTensors(dir, expectedTensors46(config), ['vpm', 'llm']);
  return { dir, family: '4.6', config, ...t } as Checkpoint46;
}

function checkServeFiles(dir: string, family: FamilyId): void {
  readJson(join(dir, 'preprocessor_config.json'), 'preprocessor_config.json');
  readJson(join(dir, 'tokenizer_config.json'), 'tokenizer_config.json');
  validateTokenizerJson(readJson(join(dir, 'tokenizer.json'), 'tokenizer.json'), join(dir, 'tokenizer.json'), family);
}

/** Headers of every weight file; checks each expected tensor's presence and shape; lazy readers. */
function openTensors(dir: string, expected: ExpectedTensor[], partNames: Part[]): Pick<Checkpoint, 'tensors' | 'weightFiles' | 'tensor' | 'tensorBytes'> & { parts: Record<string, PartStats> } {
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
  const parts: Record<string, PartStats> = Object.fromEntries(partNames.map((p) => [p, { parameters: 0, bytes: 0, tensors: 0 }]));
  for (const t of expected) {
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
