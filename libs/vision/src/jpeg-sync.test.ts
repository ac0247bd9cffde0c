import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, decodeWithSharp, sniffImageSize } from './decode-image.js';
import { decodeJpegSync, jpegStackPointer, loadJpegDecoder, plainJpeg, SYNC_JPEG_MAX_PIXELS } from './jpeg-sync.js';
import { DEFAULT_IMAGE_LIMITS } from './limits.js';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/jpeg/${name}`, import.meta.url)));
/** PIL's Image.open().convert('RGB') per file (fixtures/gen_jpeg_fixtures.py, Pillow 9.4 + libjpeg-turbo 2.1.5). */
const pil = JSON.parse(readFileSync(new URL('../fixtures/jpeg-decode.python.json', import.meta.url), 'utf8')) as Record<string, { width: number; height: number; sha256: string }>;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sized = (b: Uint8Array) => sniffImageSize(b) ?? { width: 0, height: 0 };
const viaSharp = async (b: Uint8Array) => (await decodeWithSharp(b, DEFAULT_IMAGE_LIMITS, { format: 'jpeg' })).rgb;

beforeAll(async () => {
  expect(await loadJpegDecoder()).toBe(true);
});

describe('decodeJpegSync (small JPEGs in wasm on the calling thread)', () => {
  const decodedHere = Object.keys(pil).filter((n) => n !== 'cmyk.jpg' && n !== 'exif-orientation-6.jpg');

  it.each(decodedHere)('%s: the same RGB bytes as PIL and as the sharp path', async (name) => {
    const bytes = fixture(name);
    const { width, height } = sized(bytes);
    expect([width, height]).toEqual([pil[name].width, pil[name].height]);
    const rgb = decodeJpegSync(bytes, width, height);
    expect(rgb, 'decoded in wasm').toBeDefined();
    expect(sha(rgb!)).toBe(pil[name].sha256);
    expect(sha(await viaSharp(bytes))).toBe(pil[name].sha256);
  });

  it('a 640×480 photo at every quality and sampling sharp writes: the same bytes as sharp', async () => {
    const [w, h] = [640, 480];
    const raw = Buffer.alloc(w * h * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (Math.sin(i * 0.0007) * 90 + 128 + ((i * 7) & 31)) & 255;
    const img = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
    for (const options of [{ quality: 90 }, { quality: 75, chromaSubsampling: '4:4:4' }, { quality: 60, progressive: true }, { quality: 95, mozjpeg: true }]) {
      const bytes = new Uint8Array(await img.clone().jpeg(options).toBuffer());
      const rgb = decodeJpegSync(bytes, w, h);
      expect(rgb, JSON.stringify(options)).toBeDefined();
      expect(Buffer.from(rgb!).equals(Buffer.from(await viaSharp(bytes))), JSON.stringify(options)).toBe(true);
    }
  });

  it('hands to sharp what it would decode differently: CMYK, EXIF orientation 6, larger than 0.5 MP', async () => {
    const cmyk = fixture('cmyk.jpg');
    expect(decodeJpegSync(cmyk, 97, 61)).toBeUndefined();
    expect(Buffer.from((await decodeImage(cmyk)).rgb).equals(Buffer.from(await viaSharp(cmyk)))).toBe(true);

    const rotated = fixture('exif-orientation-6.jpg');
    expect(plainJpeg(rotated)).toBe(false);
    expect(plainJpeg(fixture('exif-orientation-1.jpg'))).toBe(true);
    expect(decodeJpegSync(rotated, 97, 61)).toBeUndefined();
    const d = await decodeImage(rotated);
    expect([d.width, d.height]).toEqual([61, 97]);
    expect(Buffer.from(d.rgb).equals(Buffer.from(await viaSharp(rotated)))).toBe(true);

    // The limit is configuration (ImageLimits.syncJpegMaxPixels, TESSERA_PREPROCESS_SYNC_JPEG_MAX_PIXELS): 0 = sharp only.
    const small = fixture('420.jpg');
    expect(decodeJpegSync(small, 97, 61, 97 * 61)).toBeDefined();
    expect(decodeJpegSync(small, 97, 61, 97 * 61 - 1)).toBeUndefined();
    expect(decodeJpegSync(small, 97, 61, 0)).toBeUndefined();
    const big = new Uint8Array(await sharp({ create: { width: 1000, height: 501, channels: 3, background: '#468' } }).jpeg().toBuffer());
    expect(1000 * 501).toBeGreaterThan(SYNC_JPEG_MAX_PIXELS);
    expect(decodeJpegSync(big, 1000, 501)).toBeUndefined();
  });

  it('more than 32 scans goes to sharp (its decode time limit holds for scan bombs)', () => {
    const base = fixture('420.jpg');
    const sos = base.findIndex((v, i) => v === 0xff && base[i + 1] === 0xda);
    // 40 extra empty SOS segments after the real scan: refused by the count before any decoding.
    const extra = new Uint8Array(40 * 4).map((_, i) => [0xff, 0xda, 0x00, 0x02][i % 4]);
    const bomb = new Uint8Array([...base.subarray(0, base.length - 2), ...extra, 0xff, 0xd9]);
    expect(sos).toBeGreaterThan(0);
    expect(plainJpeg(base)).toBe(true);
    expect(plainJpeg(bomb)).toBe(false);
  });

  it('a truncated JPEG is refused as before; the decoder stays usable and its stack does not creep', async () => {
    const bytes = fixture('odd-333x251.jpg');
    const cut = bytes.subarray(0, Math.floor(bytes.length / 2));
    expect(decodeJpegSync(cut, 333, 251)).toBeUndefined();
    const e = await decodeImage(cut).then(
      () => undefined,
      (err: unknown) => err as { code?: string; message?: string },
    );
    expect(e?.code).toBe('INVALID_ARGUMENT');
    expect(e?.message).toMatch(/truncated or corrupt jpeg/);
    // The same instance decodes the next image; libjpeg's errors leave its wasm stack where it was
    // (a C++ throw unwinds it from JS: 16 bytes lost per error unless restored).
    const again = decodeJpegSync(bytes, 333, 251);
    expect(again).toBeInstanceOf(Uint8Array);
    expect(sha(again!)).toBe(pil['odd-333x251.jpg'].sha256);
    const sp = jpegStackPointer();
    expect(sp).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) expect(decodeJpegSync(cut, 333, 251)).toBeUndefined();
    expect(jpegStackPointer()).toBe(sp);
    expect(sha(decodeJpegSync(bytes, 333, 251)!)).toBe(pil['odd-333x251.jpg'].sha256);
  });
});
