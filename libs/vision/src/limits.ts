/** Input limits for one image. Every value is configuration (services read them via @tessera/config). */
export interface ImageLimits {
  /** Encoded size cap (default 20 MiB). */
  maxBytes: number;
  /** Decoded pixel cap, width × height after EXIF rotation (default 40 MP ≈ 7300×5475). Checked from the
   *  header before any pixel is decoded, and passed to libvips as limitInputPixels (bomb protection). */
  maxPixels: number;
  /** Smallest accepted side in px (default 2: a 1×1 image carries no content but costs a full 448² tile). */
  minSide: number;
  /** Largest accepted long/short side ratio (default 200; 50000×10 = 5000:1 would be one 1-patch-high strip). */
  maxAspectRatio: number;
  /** Largest per-request max_slice_nums (default 36, the upstream README's recommendation for images). */
  maxSliceNums: number;
  /** libvips time limit for decoding one image (whole seconds, rounded up; default 10 s): a decompression bomb that
   *  passes the pixel limit still cannot hold a slicer longer than this. */
  decodeTimeoutMs?: number;
  /** JPEGs up to this many pixels decode synchronously in wasm on the calling thread (jpeg-sync.ts; default
   *  SYNC_JPEG_MAX_PIXELS = 500 000); 0 = every image through sharp. PreprocessPool's workers get 0. */
  syncJpegMaxPixels?: number;
  /** Plain PNGs (8-bit RGB/grey/palette, no alpha or EXIF) up to this many pixels decode synchronously on the
   *  calling thread (png-sync.ts: zlib.inflateSync + unfilter; default SYNC_PNG_MAX_PIXELS = 500 000); 0 =
   *  sharp. PreprocessPool's workers get 0. */
  syncPngMaxPixels?: number;
}

export const DEFAULT_IMAGE_LIMITS: Readonly<ImageLimits> = Object.freeze({
  maxBytes: 20 * 1024 * 1024,
  maxPixels: 40_000_000,
  minSide: 2,
  maxAspectRatio: 200,
  maxSliceNums: 36,
});

/** `limits` with both synchronous decoders off (jpeg-sync.ts, png-sync.ts): every image through sharp, as in PreprocessPool's workers. */
export const sharpOnly = (limits: ImageLimits): ImageLimits => ({ ...limits, syncJpegMaxPixels: 0, syncPngMaxPixels: 0 });
