/**
 * `tessera slice IMAGE --out DIR [--max-slices N]` — runs the real preprocessing (decode, EXIF,
 * PIL-exact BICUBIC) and writes what the vision tower would see: overview.png, slice-<row>-<col>.png,
 * plan.json, and contact-sheet.png (the original with the slice grid, each slice's size and token
 * count, and the overview beside it).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { invalidArgument } from '@tessera/errors';
import { prepareImage, slicePlanJson, type RgbImage, type SlicePlan } from '@tessera/vision';

export const USAGE = 'usage: tessera slice IMAGE --out DIR [--max-slices N]';

export const summary = 'slice an image as MiniCPM-V does and write the overview, slices and a contact sheet as PNG (IMAGE --out DIR)';

const png = (img: RgbImage) => sharp(Buffer.from(img.rgb.buffer, img.rgb.byteOffset, img.rgb.length), { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();

/** Visual tokens per image (MiniCPM-V 2.6: the resampler's 64 queries per overview and per slice). */
const TOKENS_PER_IMAGE = 64;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** SVG overlay: slice boxes (refine coordinates) scaled back onto the original image, each labelled
 *  with its index, its size as the model sees it and its token count. */
function gridOverlay(plan: SlicePlan, width: number, height: number): Buffer {
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 300));
  const parts: string[] = [];
  if (plan.refine) {
    const sx = width / plan.refine.width;
    const sy = height / plan.refine.height;
    plan.slices.forEach((b, k) => {
      const x = b.x * sx;
      const y = b.y * sy;
      const w = b.width * sx;
      const h = b.height * sy;
      parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="#ff2050" stroke-width="${stroke}"/>`);
      const fs = Math.round(Math.min(w, h) / 5);
      parts.push(`<text x="${x + w / 2}" y="${y + h / 2}" font-size="${fs}" fill="#ff2050" text-anchor="middle" dominant-baseline="middle" font-family="sans-serif">${k}</text>`);
      parts.push(`<text x="${x + w / 2}" y="${y + h / 2 + fs}" font-size="${Math.max(10, Math.round(fs / 3))}" fill="#ff2050" text-anchor="middle" dominant-baseline="middle" font-family="sans-serif">${esc(`${b.width}×${b.height} · ${TOKENS_PER_IMAGE} tokens`)}</text>`);
    });
  } else {
    parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="none" stroke="#20a0ff" stroke-width="${stroke}"/>`);
  }
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`);
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { out: { type: 'string' }, 'max-slices': { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const file = positionals[0];
  if (!file) throw invalidArgument('IMAGE', 'IMAGE is required');
  if (!values.out) throw invalidArgument('out', '--out DIR is required');
  const maxSliceNums = values['max-slices'] === undefined ? 9 : Number(values['max-slices']);
  const bytes = await readFile(file);
  const prepared = await prepareImage(bytes, { maxSliceNums });
  const { plan, images, decoded } = prepared;
  await mkdir(values.out, { recursive: true });
  const written: string[] = [];
  const write = async (name: string, data: Buffer | string) => {
    await writeFile(join(values.out!, name), data);
    written.push(name);
  };
  await write('overview.png', await png(images[0]));
  if (plan.grid) {
    for (let k = 0; k < plan.slices.length; k++) {
      const r = Math.floor(k / plan.grid.cols);
      const c = k % plan.grid.cols;
      await write(`slice-${r}-${c}.png`, await png(images[k + 1]));
    }
  }
  // Contact sheet: the original with the slice grid, and the overview beside it (its own resize of
  // the original) with its size and token count; the total is in the caption.
  const gridded = await sharp(Buffer.from(decoded.rgb.buffer, decoded.rgb.byteOffset, decoded.rgb.length), { raw: { width: decoded.width, height: decoded.height, channels: 3 } })
    .composite([{ input: gridOverlay(plan, decoded.width, decoded.height) }])
    .png()
    .toBuffer();
  const ov = images[0];
  const pad = 16;
  const caption = 28;
  const sheetW = decoded.width + pad + ov.width;
  const sheetH = Math.max(decoded.height, ov.height + caption) + caption;
  const total = TOKENS_PER_IMAGE * images.length;
  const labels = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${sheetW}" height="${sheetH}">` +
      `<text x="${decoded.width + pad}" y="${ov.height + 20}" font-size="16" fill="#202020" font-family="sans-serif">${esc(`overview ${ov.width}×${ov.height} · ${TOKENS_PER_IMAGE} tokens`)}</text>` +
      `<text x="4" y="${sheetH - 8}" font-size="16" fill="#202020" font-family="sans-serif">${esc(`${decoded.width}×${decoded.height} → overview + ${images.length - 1} slice(s), ${total} visual tokens`)}</text>` +
      '</svg>',
  );
  const sheet = await sharp({ create: { width: sheetW, height: sheetH, channels: 3, background: '#ffffff' } })
    .composite([{ input: gridded, left: 0, top: 0 }, { input: await png(ov), left: decoded.width + pad, top: 0 }, { input: labels, left: 0, top: 0 }])
    .png()
    .toBuffer();
  await write('contact-sheet.png', sheet);
  await write('plan.json', JSON.stringify({ source: plan.source, ...slicePlanJson(plan) }, null, 2) + '\n');
  console.log(`${file}: ${decoded.width}×${decoded.height} ${decoded.format}, ${plan.grid ? `${plan.grid.cols}×${plan.grid.rows} grid` : 'not split'}, ${images.length} images → ${values.out}`);
  for (const name of written) console.log(`  ${name}`);
  return 0;
}
