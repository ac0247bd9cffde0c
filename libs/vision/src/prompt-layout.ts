/**
 * Where an image's visual tokens go in the prompt, MiniCPM-V 2.6 layout (minicpmv.md §3.1):
 *
 *   [<image_id>k</image_id>]<image>U</image><slice>U</slice>…<slice>U</slice>\n<slice>U</slice>…
 *
 * U is `queryNum` (64) `<unk>` slots; the overview sits in <image>…</image>, then `rows` lines of
 * `cols` slices with no separator inside a line, lines joined by "\n" with no trailing newline.
 * The decoder's prompt builder uses the segments to tokenise the tags and scatter the resampler's
 * output rows (overview first, then slices row-major) into the slot ranges.
 */
import type { SlicePlan } from './slice-plan.js';

export const IMAGE_TOKENS = Object.freeze({
  imageStart: '<image>',
  imageEnd: '</image>',
  sliceStart: '<slice>',
  sliceEnd: '</slice>',
  idStart: '<image_id>',
  idEnd: '</image_id>',
  unk: '<unk>',
});

/** One piece of the placeholder: literal text (tags, digits, "\n") or a run of visual slots. */
export type PlaceholderSegment =
  | { kind: 'text'; text: string }
  /** `queryNum` consecutive visual embeddings for image `image` of this plan (0 = overview). */
  | { kind: 'visual'; image: number; count: number };

export interface PlaceholderOptions {
  /** Queries per image/slice: 64 for MiniCPM-V 2.6. */
  queryNum?: number;
  /** 0-based index of the image within the sample; printed inside <image_id>. */
  imageIndex?: number;
  /** Prefix `<image_id>k</image_id>` (2.6 config default true). */
  useImageId?: boolean;
  /**
   * Visual slots per image (overview first, then slices row-major) when they differ per image:
   * MiniCPM-V 4.6 has no resampler, so a crop gets (H/56)·(W/56) (16x) or (H/28)·(W/28) (4x) slots.
   * Overrides `queryNum`.
   */
  tokensPerImage?: readonly number[];
  /** The token spelled for each visual slot in `text` (`<unk>` for 2.6, `<|image_pad|>` for 4.6). */
  slotToken?: string;
}

export interface ImagePlaceholder {
  segments: PlaceholderSegment[];
  /** The same as text with every visual slot spelled as `<unk>`. */
  text: string;
  /** Total visual slots = queryNum × (1 + slices). */
  visualTokens: number;
}

export function imagePlaceholder(plan: SlicePlan, options: PlaceholderOptions = {}): ImagePlaceholder {
  const q = options.queryNum ?? 64;
  const per = options.tokensPerImage;
  if (per && per.length !== 1 + plan.slices.length) throw new RangeError(`tokensPerImage has ${per.length} entries, the plan has ${1 + plan.slices.length} images`);
  const count = (image: number): number => (per ? per[image] : q);
  const useId = options.useImageId ?? true;
  const idx = options.imageIndex ?? 0;
  const t = IMAGE_TOKENS;
  const segments: PlaceholderSegment[] = [];
  const text = (s: string) => {
    const last = segments[segments.length - 1];
    if (last && last.kind === 'text') last.text += s;
    else segments.push({ kind: 'text', text: s });
  };
  if (useId) text(`${t.idStart}${idx}${t.idEnd}`);
  text(t.imageStart);
  segments.push({ kind: 'visual', image: 0, count: count(0) });
  text(t.imageEnd);
  if (plan.grid) {
    let image = 1;
    for (let r = 0; r < plan.grid.rows; r++) {
      if (r > 0) text('\n');
      for (let c = 0; c < plan.grid.cols; c++) {
        text(t.sliceStart);
        segments.push({ kind: 'visual', image, count: count(image) });
        image++;
        text(t.sliceEnd);
      }
    }
  }
  const slot = options.slotToken ?? t.unk;
  return {
    segments,
    text: segments.map((s) => (s.kind === 'text' ? s.text : slot.repeat(s.count))).join(''),
    visualTokens: segments.reduce((a, s) => a + (s.kind === 'visual' ? s.count : 0), 0),
  };
}
