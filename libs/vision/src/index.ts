/**
 * @tessera/vision — MiniCPM-V 2.6 image slicing (exact HF arithmetic), image decoding and
 * preprocessing (sharp + PIL-exact BICUBIC), the NaViT pixel layout, the prompt placeholder layout,
 * and the tenant-scoped encoder cache and image store.
 */
export { pyRound, pyInt, pyLog } from './py-math.js';
export {
  planSlices,
  checkSlicePlan,
  chooseGrid,
  slicePlanJson,
  imageCount,
  visualTokenCount,
  DEFAULT_SLICE_OPTIONS,
  type SliceOptions,
  type SlicePlan,
  type SliceBox,
  type Grid,
  type Size,
} from './slice-plan.js';
export { imagePlaceholder, IMAGE_TOKENS, type ImagePlaceholder, type PlaceholderOptions, type PlaceholderSegment } from './prompt-layout.js';
export { applyStreamLimits } from './stream-limits.js';
export { DEFAULT_IMAGE_LIMITS, type ImageLimits } from './limits.js';
export { decodeImage, readImageHeader, SUPPORTED_FORMATS, type DecodedImage, type ImageHeader, type ImageFormat } from './decode-image.js';
export { SYNC_JPEG_MAX_PIXELS } from './jpeg-sync.js';
export { SYNC_PNG_MAX_PIXELS } from './png-sync.js';
export { resizeBicubicRgb, PilResizer, threadResizer } from './pil-resize.js';
export { recyclePixels } from './pixel-blocks.js';
export { prepareImage, preparePixels, sliceDecoded, sliceDecodedPixels, cropRgb, validateSliceOptions, type PreparedImage, type RgbImage } from './preprocess.js';
export { parsePreprocessorConfig, DEFAULT_NORMALIZATION, type Normalization, type VisionPreprocessorConfig } from './preprocessor-config.js';
export { toPatchStrip, batchPatchStrips, toChannelFirst, normalizeRegion, type PatchStrip, type PixelBatch } from './patch-strip.js';
export { EncoderCache, DEFAULT_ENCODER_CACHE, type EncoderCacheOptions, type EncoderCacheKey, type EncoderCacheEntry, type CachedObjectRef } from './encoder-cache.js';
export { ImageStore, DEFAULT_IMAGE_STORE, type ImageStoreOptions, type StoredImage } from './image-store.js';
export { MicroBatcher, type MicroBatcherOptions, type MicroBatchStats } from './micro-batcher.js';
export { slicePlanToProto, slicePlanFromProto, sliceOptionsFromProto } from './plan-proto.js';
export { PreprocessPool, DEFAULT_INLINE_MAX_PIXELS, type PooledImage } from './preprocess-pool.js';
export {
  FAMILY_SLICING,
  SLICING_FAMILIES,
  parseSlicingFamily,
  resolveTokenMode,
  familySliceOptions,
  cropTokens,
  planTokens,
  familySlicePlanJson,
  type SlicingFamily,
  type TokenMode,
  type FamilySlicing,
} from './family-slicing.js';
export { planVideo, frameTemporalIds, DEFAULT_VIDEO_LIMITS, HARD_MAX_PACKING, VIDEO_TIME_SCALE, type VideoLimits, type VideoPlan, type VideoRequest } from './video.js';
