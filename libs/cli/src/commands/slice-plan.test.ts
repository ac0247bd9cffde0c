import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as slicePlan } from './slice-plan.js';
import { run as slice } from './slice.js';

afterEach(() => vi.restoreAllMocks());

function capture(): string[] {
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)));
  return out;
}

describe('tessera slice-plan', () => {
  it('--json prints exactly the documented shape', async () => {
    const out = capture();
    expect(await slicePlan(['--width', '1024', '--height', '768', '--json'])).toBe(0);
    expect(JSON.parse(out[0])).toEqual({
      overview: { width: 518, height: 392 },
      grid: { cols: 2, rows: 2 },
      refine: { width: 1036, height: 784 },
      slices: [
        { x: 0, y: 0, width: 518, height: 392 },
        { x: 518, y: 0, width: 518, height: 392 },
        { x: 0, y: 392, width: 518, height: 392 },
        { x: 518, y: 392, width: 518, height: 392 },
      ],
      visualTokens: 320,
    });
    expect(Object.keys(JSON.parse(out[0]))).toEqual(['overview', 'grid', 'refine', 'slices', 'visualTokens']);
  });

  it('unsplit image: grid and refine are null', async () => {
    const out = capture();
    await slicePlan(['--width', '300', '--height', '200', '--max-slices', '4', '--json']);
    expect(JSON.parse(out[0])).toMatchObject({ grid: null, refine: null, slices: [], visualTokens: 64 });
  });

  it('--family 4.6: 56-px sides and per-crop tokens in both modes', async () => {
    const out = capture();
    await slicePlan(['--width', '1344', '--height', '896', '--family', '4.6', '--json']);
    await slicePlan(['--width', '1344', '--height', '896', '--family', '4.6', '--mode', '4x', '--json']);
    const [p16, p4] = out.map((l) => JSON.parse(l));
    expect(p16).toMatchObject({ family: '4.6', mode: '16x', overview: { width: 560, height: 392, tokens: 70 }, grid: { cols: 3, rows: 2 }, visualTokens: 70 + 6 * 64 });
    expect(p16.slices[5]).toEqual({ x: 896, y: 448, width: 448, height: 448, tokens: 64 });
    expect(p4).toMatchObject({ mode: '4x', overview: { tokens: 280 }, visualTokens: 280 + 6 * 256 });
    await slicePlan(['--width', '1344', '--height', '896', '--family', '4.6', '--mode', '4x']);
    expect(out[2]).toContain('tokens     1816 visual tokens (280 + 256 + 256 + 256 + 256 + 256 + 256)');
  });

  it('a mode the family does not have is refused naming downsample_mode', async () => {
    await expect(slicePlan(['--width', '300', '--height', '200', '--mode', '4x'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'downsample_mode' } });
    await expect(slicePlan(['--width', '300', '--height', '200', '--family', '4.6', '--mode', '2x'])).rejects.toThrow(/downsample_mode "2x"/);
    await expect(slicePlan(['--width', '300', '--height', '200', '--family', '3.0'])).rejects.toMatchObject({ details: { field: 'family' } });
  });

  it('rejects --max-slices 0 naming the limit', async () => {
    await expect(slicePlan(['--width', '300', '--height', '200', '--max-slices', '0'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { limit: '1 <= max_slice_nums <= 36' } });
  });
});

describe('tessera slice', () => {
  it('writes the overview, every slice, a contact sheet and the plan', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-slice-'));
    try {
      const img = join(dir, 'in.png');
      await sharp({ create: { width: 900, height: 500, channels: 3, background: '#336699' } }).png().toFile(img);
      capture();
      expect(await slice([img, '--out', join(dir, 'out')])).toBe(0);
      const files = readdirSync(join(dir, 'out')).sort();
      expect(files).toEqual(['contact-sheet.png', 'overview.png', 'plan.json', 'slice-0-0.png', 'slice-0-1.png']);
      expect(await sharp(join(dir, 'out', 'slice-0-1.png')).metadata()).toMatchObject({ width: 420, height: 476 });
      // the original (900×500) + 16 px + the overview beside it, and a caption row below
      const overview = await sharp(join(dir, 'out', 'overview.png')).metadata();
      expect(await sharp(join(dir, 'out', 'contact-sheet.png')).metadata()).toMatchObject({ width: 900 + 16 + overview.width!, height: 500 + 28 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
