/**
 * Model families by config. `detectFamily` reads `config.json`'s `model_type` / `architectures` /
 * `version` and returns the one entry that says which stage graphs, preprocessing, prompt layout and
 * cache layout a checkpoint uses. Everything family-specific downstream (reader, builder, runtime,
 * prompt) keys off `FamilySpec.id`, so adding a family is one entry here plus its own files.
 * An unknown family is refused with the field named (`model_type`, `architectures` or `version`).
 */
import { ErrorCode, TesseraError } from '@tessera/errors';

export type FamilyId = '2.6' | '4.5' | '4.6';
export type TokenMode = '16x' | '4x';

export interface FamilySpec {
  id: FamilyId;
  /** Human name for model lists and errors. */
  name: string;
  /** `model_type` in config.json. */
  modelType: string;
  architectures: readonly string[];
  /** ONNX stages a built model of this family has, in pipeline order. */
  stages: readonly string[];
  /** 2.6: perceiver resampler to 64 tokens per slice; 4.6: none (the vision graph ends at the LLM width). */
  hasResampler: boolean;
  preprocessing: {
    /** Slice sides are snapped to multiples of this many pixels (2.6: patch 14; 4.6: 4·patch = 56). */
    snapUnit: number;
    /** Per-request visual token modes (empty: fixed 64 tokens per slice). */
    tokenModes: readonly TokenMode[];
    defaultMode: TokenMode | null;
  };
  prompt: {
    /** The per-visual-token placeholder written between `<image>`/`<slice>` markers. */
    placeholder: '<unk>' | '<|image_pad|>';
  };
  /**
   * 'kv': every layer has a growing KV cache. 'hybrid': KV only for the full-attention layers, plus a
   * fixed-size conv + recurrent state per linear-attention layer (reset per sequence, not sliceable).
   */
  cache: 'kv' | 'hybrid';
}

const MINICPMV_2_6: FamilySpec = {
  id: '2.6',
  name: 'MiniCPM-V 2.6',
  modelType: 'minicpmv',
  architectures: ['MiniCPMV'],
  stages: ['vision', 'resampler', 'embed', 'decoder'],
  hasResampler: true,
  preprocessing: { snapUnit: 14, tokenModes: [], defaultMode: null },
  prompt: { placeholder: '<unk>' },
  cache: 'kv',
};

export const FAMILIES: Readonly<Record<FamilyId, FamilySpec>> = Object.freeze({
  '2.6': MINICPMV_2_6,
  // 4.5 is the 2.6 design (SigLIP NaViT → 64-query resampler → LLM) with a Qwen3 decoder: per-head
  // q_norm / k_norm, no q/k/v bias, explicit head_dim (reference/minicpmv4x.md §7). Same stages, slicing
  // and prompt layout as 2.6; the graphs switch on config (checkpoint/config.ts LlmConfig.qkNorm).
  '4.5': { ...MINICPMV_2_6, id: '4.5', name: 'MiniCPM-V 4.5' },
  '4.6': {
    id: '4.6',
    name: 'MiniCPM-V 4.6',
    modelType: 'minicpmv4_6',
    architectures: ['MiniCPMV4_6ForConditionalGeneration'],
    stages: ['vision', 'embed', 'decoder'],
    hasResampler: false,
    preprocessing: { snapUnit: 56, tokenModes: ['16x', '4x'], defaultMode: '16x' },
    prompt: { placeholder: '<|image_pad|>' },
    cache: 'hybrid',
  },
});

const unsupported = (file: string, field: string, got: unknown, supported: string): TesseraError =>
  new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: ${field} ${JSON.stringify(got)} is not supported (supported: ${supported})`, { field, file, limit: supported });

/** config.json (parsed) → its family. Dispatches on model_type first, then checks architectures / version. */
export function detectFamily(raw: unknown, file = 'config.json'): FamilySpec {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: (root) must be a JSON object`, { field: '(root)', file });
  }
  const c = raw as Record<string, unknown>;
  const known = Object.values(FAMILIES);
  const byType = known.filter((f) => f.modelType === c.model_type);
  if (byType.length === 0) throw unsupported(file, 'model_type', c.model_type, [...new Set(known.map((f) => f.modelType))].join(', '));
  const archs = c.architectures;
  if (archs !== undefined && (!Array.isArray(archs) || !archs.some((a) => byType.some((f) => f.architectures.includes(a))))) {
    throw unsupported(file, 'architectures', archs, byType.flatMap((f) => f.architectures).join(', '));
  }
  if (c.model_type === 'minicpmv') {
    // 2.6 configs carry `version: 2.6`; older ones omit it. 2.5 / 4.0 share model_type but not the graphs.
    const version = c.version === undefined ? 2.6 : Number(c.version);
    if (version === 4.5) return FAMILIES['4.5'];
    if (version !== 2.6) throw unsupported(file, 'version', c.version, '2.6, 4.5');
    return FAMILIES['2.6'];
  }
  return byType[0];
}

/** A family's token mode from a request value (undefined → the family default). Throws naming the field. */
export function resolveTokenMode(family: FamilySpec, requested: string | undefined, field = 'downsample_mode'): TokenMode | null {
  if (requested === undefined || requested === '') return family.preprocessing.defaultMode;
  if (!(family.preprocessing.tokenModes as readonly string[]).includes(requested)) {
    const modes = family.preprocessing.tokenModes;
    throw new TesseraError(
      ErrorCode.INVALID_ARGUMENT,
      modes.length === 0 ? `${field}: ${family.name} has no token modes (got ${JSON.stringify(requested)})` : `${field}: ${JSON.stringify(requested)} is not a mode of ${family.name} (modes: ${modes.join(', ')})`,
      { field, limit: modes.join('|') || 'none' },
    );
  }
  return requested as TokenMode;
}
