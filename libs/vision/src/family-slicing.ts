/**
 * What differs in slicing and visual-token counts between MiniCPM-V families
 * (shared/reference/minicpmv4x.md §2). The slicing algorithm is the same (slice-plan.ts); 4.6 snaps
 * every side to 56 px (4·patch, two 2×2 merges follow) and, having no resampler, gives each crop
 * (H/56)·(W/56) tokens in 16x mode or (H/28)·(W/28) in 4x, instead of 2.6's fixed 64.
 */
import { invalidArgument } from '@tessera/errors';
import type { Size, SliceBox, SliceOptions, SlicePlan } from './slice-plan.js';

export type SlicingFamily = '2.6' | '4.6';
export const SLICING_FAMILIES: readonly SlicingFamily[] = ['2.6', '4.6'];
/** 4.6 token mode: total spatial reduction from ViT patches to LLM tokens. */
export type TokenMode = '16x' | '4x';

export interface FamilySlicing {
  /** Snap unit for overview and slice sides. */
  resizeUnit: number;
  /** Token modes a request may choose; empty = the family has a single fixed layout. */
  modes: readonly TokenMode[];
  defaultMode: TokenMode | null;
  /** The placeholder token spelled once per visual slot. */
  slotToken: string;
}

export const FAMILY_SLICING: Readonly<Record<SlicingFamily, FamilySlicing>> = Object.freeze({
  '2.6': { resizeUnit: 14, modes: [], defaultMode: null, slotToken: '<unk>' },
  '4.6': { resizeUnit: 56, modes: ['16x', '4x'], defaultMode: '16x', slotToken: '<|image_pad|>' },
});

export function parseSlicingFamily(raw: string): SlicingFamily {
  if (!(SLICING_FAMILIES as readonly string[]).includes(raw)) throw invalidArgument('family', `family must be one of ${SLICING_FAMILIES.join(', ')}, got ${JSON.stringify(raw)}`, SLICING_FAMILIES.join('|'));
  return raw as SlicingFamily;
}

/**
 * The token mode to use for a request: the family default when none is asked for; a mode the family
 * does not have → INVALID_ARGUMENT naming `downsample_mode`.
 */
export function resolveTokenMode(family: SlicingFamily, requested: string | undefined | null, field = 'downsample_mode'): TokenMode | null {
  const f = FAMILY_SLICING[family];
  if (requested === undefined || requested === null || requested === '') return f.defaultMode;
  if (!(f.modes as readonly string[]).includes(requested)) {
    const allowed = f.modes.length ? f.modes.join(', ') : 'none (this family has a fixed token layout)';
    throw invalidArgument(field, `downsample_mode ${JSON.stringify(requested)} is not available for MiniCPM-V ${family} (modes: ${allowed})`, f.modes.join('|') || 'unset');
  }
  return requested as TokenMode;
}

/** Slice options of a family layered over `base` (sides snapped to the family's unit). */
export function familySliceOptions(family: SlicingFamily, base: Partial<SliceOptions> = {}): Partial<SliceOptions> {
  return { ...base, resizeUnit: FAMILY_SLICING[family].resizeUnit };
}

/** Visual tokens of one crop. 2.6: `queryNum` (64) whatever its size. */
export function cropTokens(size: Size, family: SlicingFamily, mode: TokenMode | null, patchSize = 14, queryNum = 64): number {
  if (family === '2.6') return queryNum;
  const unit = patchSize * ((mode ?? '16x') === '16x' ? 4 : 2);
  if (size.width % unit || size.height % unit) throw new RangeError(`crop ${size.width}x${size.height} is not a multiple of ${unit} px`);
  return (size.width / unit) * (size.height / unit);
}

/** Tokens per image of a plan: overview first, then slices row-major (the prompt's order). */
export function planTokens(plan: SlicePlan, family: SlicingFamily, mode: TokenMode | null, patchSize = 14, queryNum = 64): number[] {
  return [plan.overview, ...plan.slices].map((s) => cropTokens(s, family, mode, patchSize, queryNum));
}

/** The CLI / API JSON of a plan for any family (2.6's slicePlanJson plus family, mode and per-crop tokens). */
export function familySlicePlanJson(plan: SlicePlan, family: SlicingFamily, mode: TokenMode | null, patchSize = 14): {
  family: SlicingFamily;
  mode: TokenMode | null;
  overview: Size & { tokens: number };
  grid: { cols: number; rows: number } | null;
  refine: Size | null;
  slices: Array<SliceBox & { tokens: number }>;
  visualTokens: number;
} {
  const tokens = planTokens(plan, family, mode, patchSize);
  return {
    family,
    mode,
    overview: { width: plan.overview.width, height: plan.overview.height, tokens: tokens[0] },
    grid: plan.grid ? { cols: plan.grid.cols, rows: plan.grid.rows } : null,
    refine: plan.refine ? { width: plan.refine.width, height: plan.refine.height } : null,
    slices: plan.slices.map((s, i) => ({ x: s.x, y: s.y, width: s.width, height: s.height, tokens: tokens[i + 1] })),
    visualTokens: tokens.reduce((a, b) => a + b, 0),
  };
}
