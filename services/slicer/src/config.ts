/** Slicer configuration: the shared keys plus model, image limits and micro-batching. */
import { bytes, commonServiceConfig, duration, encoderCacheConfig, int, loadConfig, number, oneOf, string, type ConfigOf } from '@tessera/config';

export const schema = {
  ...commonServiceConfig({ serviceName: 'slicer', grpcPort: 50052 }),
  // A model without a resampler (MiniCPM-V 4.6): the slicer writes the visual tokens into this cache.
  ...encoderCacheConfig(),
  modelDir: string({ env: 'TESSERA_MODEL_DIR', optional: true, doc: 'built ONNX model directory (manifest.json); unset = the tiny test model, generated on first use' }),
  executionProvider: oneOf(['cpu', 'cuda', 'webgpu'], { env: 'TESSERA_EXECUTION_PROVIDER', default: 'cpu', doc: 'onnxruntime execution provider (webgpu: any Vulkan GPU through the bundled WebGPU EP; the decoder keeps KV on the device)' }),
  intraOpThreads: int({ env: 'TESSERA_INTRA_OP_THREADS', default: 1, min: 1, max: 256, doc: 'threads inside one ONNX op' }),
  maxImageBytes: bytes({ env: 'TESSERA_MAX_IMAGE_BYTES', default: 20 * 1024 * 1024, min: 1024, max: 256 * 1024 * 1024, doc: 'largest encoded image' }),
  decodeTimeout: duration({ env: 'TESSERA_IMAGE_DECODE_TIMEOUT', default: 10_000, min: 1_000, max: 600_000, doc: 'libvips time limit to decode one image (whole seconds); bounds a decompression bomb that passes the pixel limit' }),
  maxImagePixels: int({ env: 'TESSERA_MAX_IMAGE_PIXELS', default: 40_000_000, min: 448 * 448, max: 500_000_000, doc: 'largest decoded image (width × height), checked from the header before decoding' }),
  minImageSide: int({ env: 'TESSERA_MIN_IMAGE_SIDE', default: 2, min: 1, max: 448, doc: 'smallest accepted image side in px' }),
  maxAspectRatio: number({ env: 'TESSERA_MAX_ASPECT_RATIO', default: 200, min: 1, max: 200_704, doc: 'largest long/short side ratio' }),
  maxSliceNumsLimit: int({ env: 'TESSERA_MAX_SLICE_NUMS', default: 36, min: 1, max: 64, doc: 'largest max_slice_nums a request may ask for' }),
  batchWindow: duration({ env: 'TESSERA_BATCH_WINDOW', default: 5, min: 0, max: 1_000, doc: 'how long the first waiting image waits for others to share a vision call' }),
  maxBatch: int({ env: 'TESSERA_MAX_BATCH', default: 16, min: 1, max: 256, doc: 'slices per vision-encoder call across requests' }),
  preprocessWorkers: int({ env: 'TESSERA_PREPROCESS_WORKERS', default: 2, min: 0, max: 64, doc: 'worker threads for decode + resize + normalise (0 = on the event loop)' }),
  preprocessInlineMaxPixels: int({ env: 'TESSERA_PREPROCESS_INLINE_MAX_PIXELS', default: 400_000, min: 0, max: 4_000_000, doc: 'PNG/JPEG images up to this many pixels are prepared on the event loop instead of a worker (the hand-off costs more than it saves; ~5–6 ms of event-loop time for a 0.3 MP JPEG, decode included); 0 = always a worker' }),
  syncJpegMaxPixels: int({ env: 'TESSERA_PREPROCESS_SYNC_JPEG_MAX_PIXELS', default: 500_000, min: 0, max: 4_000_000, doc: 'JPEGs up to this many pixels that are prepared on the event loop (TESSERA_PREPROCESS_INLINE_MAX_PIXELS) are decoded in WebAssembly libjpeg-turbo there instead of through sharp (no thread hand-off; ~2 ms at 0.3 MP); workers always use sharp; 0 = always sharp' }),
  syncPngMaxPixels: int({ env: 'TESSERA_PREPROCESS_SYNC_PNG_MAX_PIXELS', default: 500_000, min: 0, max: 4_000_000, doc: 'PNGs up to this many pixels (8-bit RGB, grey or palette; no alpha, no EXIF) that are prepared on the event loop (TESSERA_PREPROCESS_INLINE_MAX_PIXELS) are decoded there with zlib.inflateSync and JS unfiltering instead of through sharp (no thread hand-off); workers always use sharp; 0 = always sharp' }),
  tensorRefThreshold: bytes({ env: 'TESSERA_TENSOR_REF_THRESHOLD', default: 256 * 1024, min: 1024, max: 1024 * 1024, doc: 'a feature tensor above this goes to the object store as an ObjectRef' }),
};

export type SlicerConfig = ConfigOf<typeof schema>;

export function loadSlicerConfig(env: Readonly<Record<string, string | undefined>> = process.env): SlicerConfig {
  return loadConfig(schema, env);
}
