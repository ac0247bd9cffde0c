import { bool, bytes, commonServiceConfig, ConfigError, duration, encoderCacheConfig, imageStoreConfig, int, loadConfig, number, string, type ConfigOf } from '@tessera/config';

/** Every gateway setting; `describeConfig(gatewaySchema)` renders the table in README.md. */
export const gatewaySchema = {
  ...commonServiceConfig({ serviceName: 'gateway', grpcPort: 50051 }),
  // The gateway's gRPC port is the public API (like HTTP); only the internal services default to loopback.
  grpcHost: string({ env: 'TESSERA_GRPC_HOST', default: '0.0.0.0', doc: 'public gRPC API listen address' }),
  httpPort: int({ env: 'TESSERA_HTTP_PORT', default: 8080, min: 0, max: 65535, doc: 'OpenAI-compatible HTTP API port' }),
  httpHost: string({ env: 'TESSERA_HTTP_HOST', default: '0.0.0.0', doc: 'HTTP listen address' }),
  modelDir: string({ env: 'TESSERA_MODEL_DIR', doc: 'built model directory (manifest.json + tokenizer); the gateway reads only metadata' }),
  modelId: string({ env: 'TESSERA_GATEWAY_MODEL_ID', default: 'minicpm-v-2_6', doc: 'the model id clients send in `model`' }),
  apiKeysFile: string({ env: 'TESSERA_GATEWAY_API_KEYS_FILE', doc: 'JSON file (or mounted secret) with hashed API keys and tenant quotas' }),
  maxBodyBytes: bytes({ env: 'TESSERA_GATEWAY_MAX_BODY', default: 32 * 1024 * 1024, min: 1024, max: 512 * 1024 * 1024, doc: 'largest HTTP request body (base64 images included)' }),
  requestTimeout: duration({ env: 'TESSERA_GATEWAY_REQUEST_TIMEOUT', default: 120_000, min: 1000, max: 3_600_000, doc: 'deadline of one chat request across every stage' }),
  maxMessages: int({ env: 'TESSERA_GATEWAY_MAX_MESSAGES', default: 256, min: 1, max: 10_000, doc: 'messages per request' }),
  maxTextChars: int({ env: 'TESSERA_GATEWAY_MAX_TEXT_CHARS', default: 256_000, min: 1, max: 10_000_000, doc: 'characters of text per request' }),
  maxImagesPerRequest: int({ env: 'TESSERA_GATEWAY_MAX_IMAGES', default: 8, min: 0, max: 64, doc: 'images per request (a tenant quota may lower it)' }),
  maxImageBytes: bytes({ env: 'TESSERA_GATEWAY_MAX_IMAGE_BYTES', default: 20 * 1024 * 1024, min: 1024, max: 256 * 1024 * 1024, doc: 'encoded bytes per image' }),
  maxImagePixels: int({ env: 'TESSERA_GATEWAY_MAX_IMAGE_PIXELS', default: 40_000_000, min: 1, max: 500_000_000, doc: 'pixels per image (a tenant quota may lower it)' }),
  maxVideosPerRequest: int({ env: 'TESSERA_GATEWAY_MAX_VIDEOS', default: 1, min: 0, max: 16, doc: 'video content parts (frame lists, MiniCPM-V 4.5) per request' }),
  maxVideoFrames: int({ env: 'TESSERA_GATEWAY_MAX_VIDEO_FRAMES', default: 64, min: 1, max: 540, doc: 'frames per video part; each frame is one slicer call (a 448² overview); whole groups go to the resampler in calls of at most TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL frames; 540 = upstream 180 frames × packing 3' }),
  // The resampler refuses a call of more slices than its TESSERA_MAX_SLICES_PER_REQUEST (default 37, max 65)
  // with INVALID_ARGUMENT, so this must stay at or below that value in the same deployment: the same default,
  // and the resampler's own upper bound as the limit here.
  videoFramesPerCall: int({ env: 'TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL', default: 37, min: 1, max: 65, doc: "MiniCPM-V 4.5 video: frames per resampler call (whole groups of ≤ 6 frames; a call carries at least one group); must not exceed the resampler's TESSERA_MAX_SLICES_PER_REQUEST (default 37), which refuses larger calls" }),
  // The resampler's own variable, read here only to check the one above at start: one environment for
  // both (the local stack's env, one env file) sets it once; the chart passes the resampler's value.
  resamplerMaxSlices: int({ env: 'TESSERA_MAX_SLICES_PER_REQUEST', default: 37, min: 1, max: 65, doc: "the resampler's slices per Resample request as deployed (same default); the gateway refuses to start when TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL is larger" }),
  // The decoder's own variables, read here for POST /tokenize only, which must give the decoder's prompt:
  // max_model_len is the decoder's context (this, capped by the model's max_position_embeddings), and a
  // chat's generation prompt depends on enable_thinking when the request sets none. Same names and
  // defaults as the decoder's; one environment (the local stack's env) sets both, the chart passes them.
  decoderMaxContext: int({ env: 'TESSERA_DECODER_MAX_CONTEXT', default: 8192, min: 16, doc: "the decoder's context as deployed (same default); POST /tokenize reports min(it, max_position_embeddings) as max_model_len" }),
  decoderEnableThinking: bool({ env: 'TESSERA_DECODER_ENABLE_THINKING', default: false, doc: "the decoder's default enable_thinking as deployed (same default); POST /tokenize renders a 4.5 / 4.6 chat with it when the request sets none" }),
  // 16, not OpenAI's 4: vLLM takes any number, and lm-eval's local-completions sends a task's whole `until` list plus the EOS string.
  maxStopSequences: int({ env: 'TESSERA_GATEWAY_MAX_STOP', default: 16, min: 1, max: 64, doc: 'stop sequences per request (`stop`); the decoder takes TESSERA_DECODER_MAX_STOP (same default)' }),
  maxTokensLimit: int({ env: 'TESSERA_GATEWAY_MAX_TOKENS', default: 4096, min: 1, max: 1_000_000, doc: 'largest accepted max_tokens' }),
  defaultMaxTokens: int({ env: 'TESSERA_GATEWAY_DEFAULT_MAX_TOKENS', default: 256, min: 1, max: 1_000_000, doc: 'max_tokens when the request gives none' }),
  // 8: vLLM's benchmarks and OpenAI clients sample a handful of answers (a preference pair needs 2); each
  // choice is one decoder sequence of up to max_tokens, so n multiplies a request's decoder load and its
  // token reservation (prompt + n × max_tokens).
  // 32: lm-eval's local-completions sends `batch_size` prompts per request (16–64 is common against vLLM).
  maxPrompts: int({ env: 'TESSERA_GATEWAY_MAX_PROMPTS', default: 32, min: 1, max: 1024, doc: 'prompts per /v1/completions request (a batch, `prompt: [p1, p2, …]`); each is answered as its own request (choices p·n + i), the reservation is the sum' }),
  maxChoices: int({ env: 'TESSERA_GATEWAY_MAX_CHOICES', default: 8, min: 1, max: 128, doc: 'largest OpenAI `n` (choices per request); each choice is its own decoder generation, and the reservation is prompt + n × max_tokens' }),
  maxSliceNums: int({ env: 'TESSERA_GATEWAY_MAX_SLICE_NUMS', default: 36, min: 1, max: 64, doc: 'largest per-request max_slice_nums' }),
  defaultMaxSliceNums: int({ env: 'TESSERA_GATEWAY_DEFAULT_SLICE_NUMS', default: 9, min: 1, max: 64, doc: 'MiniCPM-V max_slice_nums when the request gives none' }),
  scaleResolution: int({ env: 'TESSERA_GATEWAY_SCALE_RESOLUTION', default: 448, min: 14, max: 4096, doc: 'MiniCPM-V scale_resolution (slice side)' }),
  useImageId: bool({ env: 'TESSERA_GATEWAY_USE_IMAGE_ID', default: true, doc: 'emit <image_id>k</image_id> before each image (MiniCPM-V 2.6)' }),
  maxCollectionK: int({ env: 'TESSERA_GATEWAY_MAX_COLLECTION_K', default: 50, min: 1, max: 1000, doc: 'largest k for grounded chat' }),
  allowRemoteImages: bool({ env: 'TESSERA_GATEWAY_ALLOW_REMOTE_IMAGES', default: false, doc: 'fetch http(s) image URLs (off: data: URLs only)' }),
  remoteImageAllowList: string({ env: 'TESSERA_GATEWAY_REMOTE_IMAGE_HOSTS', default: '', doc: 'comma-separated host names remote images may come from (empty = any)' }),
  remoteImageTimeout: duration({ env: 'TESSERA_GATEWAY_REMOTE_IMAGE_TIMEOUT', default: 5000, min: 100, max: 60_000, doc: 'time limit to fetch one remote image' }),
  decoderWorkQueue: bool({ env: 'TESSERA_DECODER_WORK_QUEUE', default: false, doc: 'send Generate through the TESSERA_DECODER work queue (must match the decoder; the chart sets both for backlog autoscaling)' }),
  decoderResumeAttempts: int({ env: 'TESSERA_DECODER_RESUME_ATTEMPTS', default: 1, min: 0, max: 5, doc: 'times a generation whose decoder went silent (two missed heartbeats) is restarted on another replica (same seed, delivered tokens skipped) before the request fails with 503' }),
  recordResponses: bool({ env: 'TESSERA_GATEWAY_RECORD_RESPONSES', default: true, doc: 'store each response in feedback for training exports' }),
  quotaRequestsPerMinute: int({ env: 'TESSERA_QUOTA_REQUESTS_PER_MINUTE', default: 600, min: 1, max: 10_000_000, doc: 'default tenant quota' }),
  quotaTokensPerMinute: int({ env: 'TESSERA_QUOTA_TOKENS_PER_MINUTE', default: 2_000_000, min: 1, max: 1_000_000_000, doc: 'default tenant quota (prompt + max_tokens reserved at admission)' }),
  quotaConcurrentStreams: int({ env: 'TESSERA_QUOTA_CONCURRENT_STREAMS', default: 32, min: 1, max: 100_000, doc: 'default tenant quota' }),
  quotaMaxImagesPerRequest: int({ env: 'TESSERA_QUOTA_MAX_IMAGES', default: 8, min: 0, max: 64, doc: 'default tenant quota' }),
  maxRequestImageCost: number({ env: 'TESSERA_GATEWAY_MAX_REQUEST_IMAGE_COST', default: 256, min: 0.01, max: 1_000_000, doc: 'image preprocessing budget of one request in megapixel-slices (decoded megapixels × (1 + slices), from headers before decoding); a 12 MP photo at 9 slices is ~122, a 36 MP one 360' }),
  quotaImageCostPerMinute: number({ env: 'TESSERA_QUOTA_IMAGE_COST_PER_MINUTE', default: 2048, min: 0.01, max: 1_000_000_000, doc: 'default tenant quota: megapixel-slices of images per minute (keys file: imageCostPerMinute)' }),
  quotaMaxImagePixels: int({ env: 'TESSERA_QUOTA_MAX_IMAGE_PIXELS', default: 40_000_000, min: 1, max: 500_000_000, doc: 'default tenant quota' }),
  ...encoderCacheConfig(),
  ...imageStoreConfig(),
  // 30 days: OpenAI keeps stored responses 30 days by default. 0 = store nothing (every answer says store: false).
  responsesTtl: duration({ env: 'TESSERA_GATEWAY_RESPONSES_TTL', default: 30 * 86_400_000, min: 0, doc: '/v1/responses `store`: how long a stored response can be retrieved and continued (previous_response_id); 0 = nothing is stored (answers say store: false). Keep it at or below TESSERA_IMAGE_RETENTION: a stored conversation refers to its images in the image store' }),
  responsesBucket: string({ env: 'TESSERA_GATEWAY_RESPONSES_BUCKET', default: 'tessera-responses', pattern: /^[A-Za-z0-9_-]+$/, doc: 'JetStream KV bucket of stored /v1/responses (an edge site: its own, in the site domain)' }),
  // 1 MiB is NATS's default max_payload, and a KV value is one message: a bigger value cannot be written.
  responsesMaxBytes: bytes({ env: 'TESSERA_GATEWAY_RESPONSES_MAX_BYTES', default: 1000 * 1024, min: 16 * 1024, max: 64 * 1024 * 1024, doc: "largest stored response (its JSON: the conversation with images by reference, and the answer); a conversation over it is a 400 naming `input` (send store: false); an answer that pushes it over is not stored (store: false); must stay under NATS's max_payload (1 MiB by default)" }),
  siteConfig: string({ env: 'TESSERA_SITE_CONFIG', default: '', doc: 'edge site: JSON file naming the site, its JetStream domain, the hub domain and where each model runs (site | hub, fallback policy); empty = not an edge site (docs/edge.md)' }),
  siteUplink: bool({ env: 'TESSERA_GATEWAY_SITE_UPLINK', default: false, doc: 'hub: also serve chats that edge sites forward over their leaf link: offered directly on tessera.uplink.> and from the TESSERA_UPLINK work queue (tenant from the bus header)' }),
  uplinkDirect: bool({ env: 'TESSERA_GATEWAY_UPLINK_DIRECT', default: true, doc: 'edge site: offer each forwarded chat to a hub gateway directly (core NATS request/reply on tessera.uplink.>) before queueing it in TESSERA_UPLINK; one not taken (no hub gateway subscribed, all at their limit) is queued as before; false = always the queue' }),
  uplinkAcceptTimeout: duration({ env: 'TESSERA_GATEWAY_UPLINK_ACCEPT_TIMEOUT', default: 1_000, min: 50, max: 60_000, doc: 'edge site: how long a direct offer waits for the hub gateway to accept it; past it the chat fails as unreachable (503 + Retry-After, or the fallback model), not queued (the hub may have it), so a silently cut link stays inside the 2 s budget' }),
  uplinkConcurrency: int({ env: 'TESSERA_GATEWAY_UPLINK_CONCURRENCY', default: 256, min: 1, max: 100_000, doc: "hub: forwarded chats this gateway streams at once, direct and queued together (a direct offer beyond it is refused and queued) (each only waits on the decoder; TESSERA_MAX_CONCURRENCY's 4 would queue a site's 5th request behind whole answers)" }),
  webDir: string({ env: 'TESSERA_GATEWAY_WEB_DIR', default: '', doc: 'directory of the built playground to serve at / (empty = the bundled one if built)' }),
};

export type GatewayConfig = ConfigOf<typeof gatewaySchema>;

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const config = loadConfig(gatewaySchema, env);
  // Every resampler call of a video carries up to videoFramesPerCall frames and the resampler refuses
  // more than its limit with INVALID_ARGUMENT: with 37 here and 10 there, every video of more than 10
  // frames would fail at the resampler after its frames were encoded. Refuse the deployment instead.
  if (config.videoFramesPerCall > config.resamplerMaxSlices) {
    throw new ConfigError([
      {
        env: 'TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL',
        message: `(${config.videoFramesPerCall}) must not exceed the resampler's TESSERA_MAX_SLICES_PER_REQUEST (${config.resamplerMaxSlices}): it refuses a call of more slices, so every video of more than ${config.resamplerMaxSlices} frames would fail; lower this or raise that on both`,
      },
    ]);
  }
  return config;
}
