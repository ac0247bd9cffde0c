import { api, describeError } from './api.js';
import { h, notice } from './dom.js';

export interface SlicePlanJson {
  source: { width: number; height: number };
  format?: string;
  maxSliceNums: number;
  scaleResolution: number;
  /** MiniCPM-V family of the served model ("2.6", "4.6"); older gateways omit it. */
  family?: string;
  /** 4.6 token mode ("16x" | "4x"); null for families with a fixed 64 tokens per image. */
  mode?: string | null;
  /** `tokens` per crop: 4.6 only (2.6 is 64 each). */
  overview: { width: number; height: number; tokens?: number };
  grid: { cols: number; rows: number } | null;
  refine: { width: number; height: number } | null;
  slices: Array<{ x: number; y: number; width: number; height: number; tokens?: number }>;
  images: number;
  visualTokens: number;
}

/** Asks the gateway how it will slice these image bytes (header only; nothing is decoded). */
export async function fetchSlicePlan(file: Blob, maxSliceNums?: number, downsampleMode?: string): Promise<SlicePlanJson> {
  const params = new URLSearchParams();
  if (maxSliceNums) params.set('max_slice_nums', String(maxSliceNums));
  if (downsampleMode) params.set('downsample_mode', downsampleMode);
  const q = params.toString() ? `?${params.toString()}` : '';
  const res = await api(`/v1/tessera/slice-plan${q}`, { method: 'POST', headers: { 'content-type': file.type || 'application/octet-stream' }, body: file });
  return (await res.json()) as SlicePlanJson;
}

const MAX_DRAW = 320;

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('the browser cannot display this image'));
    img.src = url;
  });
}

/**
 * The original with the slice grid drawn on it (slice boxes are in `refine` pixels, scaled back to
 * the original), the overview at its true aspect, and what it costs: images × 64 visual tokens for
 * 2.6; for 4.6 each crop's own count in the plan's token mode (16x: (H/56)·(W/56), 4x: (H/28)·(W/28)).
 */
export async function renderSlicePlan(url: string, plan: SlicePlanJson, name: string): Promise<HTMLElement> {
  const { width: W, height: H } = plan.source;
  const scale = Math.min(1, MAX_DRAW / Math.max(W, H));
  const grid = h('canvas', { width: Math.max(1, Math.round(W * scale)), height: Math.max(1, Math.round(H * scale)), role: 'img', 'aria-label': `${name} with its ${plan.slices.length} slices outlined` });
  const ov = plan.overview;
  const oscale = Math.min(1, 160 / Math.max(ov.width, ov.height));
  const overview = h('canvas', { width: Math.max(1, Math.round(ov.width * oscale)), height: Math.max(1, Math.round(ov.height * oscale)), role: 'img', 'aria-label': `${name} overview, resized to ${ov.width}×${ov.height}` });
  try {
    const img = await loadImage(url);
    const g = grid.getContext('2d')!;
    g.drawImage(img, 0, 0, grid.width, grid.height);
    if (plan.refine && plan.grid) {
      const sx = grid.width / plan.refine.width;
      const sy = grid.height / plan.refine.height;
      g.lineWidth = 2;
      g.font = 'bold 14px system-ui, sans-serif';
      plan.slices.forEach((s, i) => {
        g.strokeStyle = '#ffeb3b';
        g.strokeRect(s.x * sx + 1, s.y * sy + 1, s.width * sx - 2, s.height * sy - 2);
        g.fillStyle = 'rgba(0,0,0,0.75)';
        g.fillRect(s.x * sx + 4, s.y * sy + 4, 22, 18);
        g.fillStyle = '#ffeb3b';
        g.fillText(String(i + 1), s.x * sx + 8, s.y * sy + 18);
      });
    }
    overview.getContext('2d')!.drawImage(img, 0, 0, overview.width, overview.height);
  } catch (err) {
    return h('div', { class: 'slice-view' }, notice('error', `${name}: ${describeError(err)}`));
  }
  const gridText = plan.grid
    ? `${plan.grid.cols}×${plan.grid.rows} slices of ${plan.slices[0]!.width}×${plan.slices[0]!.height} (from ${plan.refine!.width}×${plan.refine!.height})`
    : 'no slices (the image fits one tile)';
  return h(
    'figure',
    { class: 'slice-view', 'data-testid': 'slice-view' },
    h('div', { class: 'slice-canvases' }, h('div', {}, grid, h('small', {}, plan.grid ? 'Slices on the original' : 'Original (not sliced)')), h('div', {}, overview, h('small', {}, `Overview ${ov.width}×${ov.height}`))),
    h(
      'figcaption',
      {},
      h('strong', {}, name),
      ` ${W}×${H}${plan.format ? ` ${plan.format.toUpperCase()}` : ''}: overview + ${gridText} = ${plan.images} image${plan.images > 1 ? 's' : ''} → `,
      h('strong', { 'data-testid': 'visual-tokens' }, `${plan.visualTokens} visual tokens`),
      plan.overview.tokens !== undefined ? ` (${[plan.overview.tokens, ...plan.slices.map((x) => x.tokens)].join(' + ')})` : '',
      plan.mode ? h('span', {}, ' in mode ', h('strong', { 'data-testid': 'token-mode' }, plan.mode)) : '',
      ` (max_slice_nums ${plan.maxSliceNums})`,
    ),
  );
}
