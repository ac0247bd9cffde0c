/**
 * `tessera slice-plan --width W --height H [--max-slices N] [--family 2.6|4.6] [--mode 16x|4x] [--json]`
 * — the MiniCPM-V slice plan for an image size, without an image. For 2.6 (default) `--json` prints exactly
 * {"overview":{"width","height"},"grid":{"cols","rows"}|null,"refine":{"width","height"}|null,
 *  "slices":[{"x","y","width","height"}],"visualTokens":N}; slices are crop boxes in the refine image.
 * `--family 4.6` snaps sides to 56 px and adds "family", "mode" and per-crop "tokens"
 * ((H/56)·(W/56) in 16x, the default; (H/28)·(W/28) in 4x).
 */
import { parseArgs } from 'node:util';
import { invalidArgument } from '@tessera/errors';
import { familySliceOptions, familySlicePlanJson, parseSlicingFamily, planSlices, resolveTokenMode, slicePlanJson, validateSliceOptions } from '@tessera/vision';

export const USAGE = 'usage: tessera slice-plan --width W --height H [--max-slices N] [--family 2.6|4.6] [--mode 16x|4x] [--json]';

export const summary = 'print the MiniCPM-V slice plan for an image size (--width W --height H [--max-slices N] [--family 2.6|4.6] [--mode 16x|4x] [--json])';

function positiveInt(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n < 1 || n > 1_000_000) {
    throw invalidArgument(name, `--${name} must be an integer in 1..1000000, got ${raw ?? '(missing)'}`, `1 <= ${name} <= 1000000`);
  }
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { width: { type: 'string' }, height: { type: 'string' }, 'max-slices': { type: 'string' }, family: { type: 'string', default: '2.6' }, mode: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  const width = positiveInt('width', values.width);
  const height = positiveInt('height', values.height);
  const maxSliceNums = values['max-slices'] === undefined ? 9 : Number(values['max-slices']);
  const family = parseSlicingFamily(values.family ?? '2.6');
  const mode = resolveTokenMode(family, values.mode);
  const options = validateSliceOptions(familySliceOptions(family, { maxSliceNums }));
  if (family !== '2.6') return printFamilyPlan(width, height, options.maxSliceNums, familySlicePlanJson(planSlices(width, height, options), family, mode), values.json === true);
  const json = slicePlanJson(planSlices(width, height, options));
  if (values.json) {
    console.log(JSON.stringify(json));
    return 0;
  }
  const lines = [
    `image      ${width}×${height} (max slices ${options.maxSliceNums})`,
    `overview   ${json.overview.width}×${json.overview.height} (${(json.overview.width / 14) * (json.overview.height / 14)} patches)`,
  ];
  if (json.grid && json.refine) {
    lines.push(`grid       ${json.grid.cols} cols × ${json.grid.rows} rows`);
    lines.push(`refine     ${json.refine.width}×${json.refine.height}`);
    const s = json.slices[0];
    lines.push(`slice      ${s.width}×${s.height} each (${(s.width / 14) * (s.height / 14)} patches)`);
    for (const b of json.slices) lines.push(`  x=${b.x} y=${b.y} ${b.width}×${b.height}`);
  } else {
    lines.push('grid       none (not split)');
  }
  lines.push(`tokens     ${json.visualTokens} visual tokens (64 × ${1 + json.slices.length} images)`);
  console.log(lines.join('\n'));
  return 0;
}

function printFamilyPlan(width: number, height: number, maxSlices: number, json: ReturnType<typeof familySlicePlanJson>, asJson: boolean): number {
  if (asJson) {
    console.log(JSON.stringify(json));
    return 0;
  }
  const o = json.overview;
  const lines = [`image      ${width}×${height} (MiniCPM-V ${json.family}, mode ${json.mode ?? '-'}, max slices ${maxSlices})`, `overview   ${o.width}×${o.height} → ${o.tokens} tokens`];
  if (json.grid && json.refine) {
    lines.push(`grid       ${json.grid.cols} cols × ${json.grid.rows} rows`);
    lines.push(`refine     ${json.refine.width}×${json.refine.height}`);
    const s = json.slices[0];
    lines.push(`slice      ${s.width}×${s.height} each → ${s.tokens} tokens`);
    for (const b of json.slices) lines.push(`  x=${b.x} y=${b.y} ${b.width}×${b.height}`);
  } else {
    lines.push('grid       none (not split)');
  }
  lines.push(`tokens     ${json.visualTokens} visual tokens (${[o.tokens, ...json.slices.map((s) => s.tokens)].join(' + ')})`);
  console.log(lines.join('\n'));
  return 0;
}
