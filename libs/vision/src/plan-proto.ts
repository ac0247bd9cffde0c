/**
 * SlicePlan ⇄ `tessera.vision.v1.SlicePlan`. The slicer fills the proto; the gateway and the decoder
 * turn it back into a plan for `imagePlaceholder` (the grid, in row-major order, is all it needs).
 */
import type { visionV1 } from '@tessera/contracts';
import type { SliceOptions, SlicePlan } from './slice-plan.js';

/** `tokensPerImage` (4.6: per-crop counts) replaces queryNum × images when given. */
export function slicePlanToProto(
  plan: SlicePlan,
  queryNum: number,
  options: { maxSliceNums: number; scaleResolution: number; useImageId: boolean; downsampleMode?: string },
  tokensPerImage?: readonly number[],
): visionV1.SlicePlan {
  return {
    sourceSize: { ...plan.source },
    overviewSize: { ...plan.overview },
    gridCols: plan.grid?.cols ?? 0,
    gridRows: plan.grid?.rows ?? 0,
    refineSize: plan.refine ? { ...plan.refine } : undefined,
    sliceBoxes: plan.slices.map((b) => ({ ...b })),
    visualTokenCount: tokensPerImage ? tokensPerImage.reduce((a, b) => a + b, 0) : queryNum * (1 + plan.slices.length),
    queryNum,
    options: { maxSliceNums: options.maxSliceNums, scaleResolution: options.scaleResolution, useImageId: options.useImageId, ...(options.downsampleMode && { downsampleMode: options.downsampleMode }) },
    tokensPerImage: tokensPerImage ? [...tokensPerImage] : [],
  };
}

export function slicePlanFromProto(p: visionV1.SlicePlan): SlicePlan {
  const sliced = p.gridCols > 0 && p.gridRows > 0;
  return {
    source: { width: p.sourceSize?.width ?? 0, height: p.sourceSize?.height ?? 0 },
    overview: { width: p.overviewSize?.width ?? 0, height: p.overviewSize?.height ?? 0 },
    grid: sliced ? { cols: p.gridCols, rows: p.gridRows } : null,
    refine: sliced && p.refineSize ? { width: p.refineSize.width, height: p.refineSize.height } : null,
    slices: sliced ? p.sliceBoxes.map((b) => ({ x: b.x, y: b.y, width: b.width, height: b.height })) : [],
  };
}

/** Request options (proto, all optional) → partial SliceOptions. */
export function sliceOptionsFromProto(o: visionV1.SliceOptions | undefined): Partial<SliceOptions> {
  const out: Partial<SliceOptions> = {};
  if (o?.maxSliceNums !== undefined) out.maxSliceNums = o.maxSliceNums;
  if (o?.scaleResolution !== undefined) out.scaleResolution = o.scaleResolution;
  // Checked against the loaded family where it is used (resolveTokenMode), so a bad value is named there.
  if (o?.downsampleMode !== undefined && o.downsampleMode !== '') out.downsampleMode = o.downsampleMode as SliceOptions['downsampleMode'];
  return out;
}
