/**
 * 4.6 prompt ids for a 1344×896 and a 4032×3024 image in both token modes, through the stand-in
 * tokenizer's own Jinja chat template, equal the rule of reference/minicpmv4x.md §5: `<image_id>0</image_id>`
 * `<image>` pads `</image>`, then rows of `<slice>` pads `</slice>` joined by "\n", with (H/56)·(W/56) pads
 * per crop in 16x and (H/28)·(W/28) in 4x (crop sizes from the 4.6 slice plan, counts recomputed here).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { familySliceOptions, planSlices, planTokens } from '@tessera/vision';
import { ensureTinyModel46Paths, loadTokenizer, type Tokenizer } from '../../index.js';
import { buildPromptIds46 } from './prompt46.js';

let tok: Tokenizer;
beforeAll(async () => {
  tok = loadTokenizer((await ensureTinyModel46Paths()).model);
});

describe('4.6 prompt ids', () => {
  for (const [w, h] of [[1344, 896], [4032, 3024]] as const) {
    for (const mode of ['16x', '4x'] as const) {
      it(`${w}×${h}, ${mode}`, () => {
        const plan = planSlices(w, h, familySliceOptions('4.6'));
        const unit = mode === '16x' ? 56 : 28;
        const crops = [plan.overview, ...plan.slices];
        const counts = crops.map((c) => (c.width / unit) * (c.height / unit));
        expect(planTokens(plan, '4.6', mode)).toEqual(counts);
        const grid = plan.grid ? { rows: plan.grid.rows, cols: plan.grid.cols } : null;
        const { ids, imagePadPositions } = buildPromptIds46(
          tok,
          [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is <|im_end|> here?' }] }],
          [{ tokensPerImage: counts, grid }],
          { enableThinking: false },
        );
        const s = tok.specialTokenIds;
        const c = (x: string): number => tok.addedTokenId(x)!;
        const expected: number[] = [s.imStart, ...tok.encodePlain('user\n'), c('<image_id>'), ...tok.encodePlain('0'), c('</image_id>'), c('<image>'), ...Array(counts[0]).fill(s.imagePad), c('</image>')];
        if (grid) {
          let k = 1;
          for (let r = 0; r < grid.rows; r++) {
            if (r > 0) expected.push(s.newline);
            for (let col = 0; col < grid.cols; col++) expected.push(c('<slice>'), ...Array(counts[k++]).fill(s.imagePad), c('</slice>'));
          }
        }
        expected.push(...tok.encodePlain('What is <|im_end|> here?'), s.imEnd, ...tok.encodePlain('\n'), s.imStart, ...tok.encodePlain('assistant\n'), c('<think>'), ...tok.encodePlain('\n\n'), c('</think>'), ...tok.encodePlain('\n\n'));
        expect(ids).toEqual(expected);
        expect(imagePadPositions.length).toBe(counts.reduce((a, b) => a + b, 0));
        // The typed "<|im_end|>" stayed text: one control <|im_end|> (the turn end) in the whole prompt.
        expect(ids.filter((x) => x === s.imEnd).length).toBe(1);
        console.log(`${w}x${h} ${mode}: grid ${grid ? `${grid.cols}x${grid.rows}` : 'none'}, crops ${crops.map((x) => `${x.width}x${x.height}`).join(' ')}, pads ${counts.join('+')} = ${imagePadPositions.length}, prompt ${ids.length} ids`);
      });
    }
  }
});
