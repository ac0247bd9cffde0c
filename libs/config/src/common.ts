import { bool, bytes, duration, int, number, oneOf, string, url } from './fields.js';

export interface CommonDefaults {
  /** `OTEL_SERVICE_NAME` default and the NATS queue group, e.g. `slicer`. */
  serviceName: string;
  /** gRPC port default (gateway 50051, slicer 50052, resampler 50053, decoder 50054, retrieval 50055, feedback 50056). */
  grpcPort: number;
  /** Prometheus port default; by convention 9464 + the gRPC port's last digit. */
  metricsPort?: number;
}

/**
 * The keys every service shares (CONTRIBUTING.md "Shared names"). Spread it into a service schema:
 * `loadConfig({ ...commonServiceConfig({ serviceName: 'slicer', grpcPort: 50052 }), maxSlices: int(…) })`.
 */
export function commonServiceConfig(d: CommonDefaults) {
  return {
    serviceName: string({ env: 'OTEL_SERVICE_NAME', default: d.serviceName, minLength: 1, doc: 'service name in traces, metrics and the NATS queue group' }),
    natsUrl: string({ env: 'NATS_URL', default: 'nats://127.0.0.1:4222', minLength: 1, doc: 'NATS server URL(s), comma-separated' }),
    natsUser: string({ env: 'NATS_USER', optional: true, doc: 'NATS user (with NATS_PASSWORD); each service has its own user and subject permissions' }),
    natsPassword: string({ env: 'NATS_PASSWORD', optional: true, doc: 'password of NATS_USER (mount it from a secret)' }),
    natsToken: string({ env: 'NATS_TOKEN', optional: true, doc: 'NATS token authentication (alternative to user/password)' }),
    natsNkeySeedFile: string({ env: 'NATS_NKEY_SEED_FILE', optional: true, doc: 'file holding an NKEY user seed (SU…) for nkey authentication' }),
    natsCredsFile: string({ env: 'NATS_CREDS_FILE', optional: true, doc: '.creds file (user JWT + NKEY seed) for decentralized JWT authentication' }),
    natsTlsCaFile: string({ env: 'NATS_TLS_CA_FILE', optional: true, doc: 'CA certificate (PEM) that signed the NATS server certificate; enables TLS' }),
    natsTlsCertFile: string({ env: 'NATS_TLS_CERT_FILE', optional: true, doc: 'client certificate (PEM) for mutual TLS to NATS' }),
    natsTlsKeyFile: string({ env: 'NATS_TLS_KEY_FILE', optional: true, doc: 'client key (PEM) for mutual TLS to NATS' }),
    natsInboxPrefix: string({ env: 'NATS_INBOX_PREFIX', optional: true, pattern: /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, doc: 'prefix of this service\'s reply inboxes; default `_INBOX.<NATS_USER>` (or `_INBOX.<service name>`), the only inboxes its NATS user may subscribe' }),
    grpcPort: int({ env: 'TESSERA_GRPC_PORT', default: d.grpcPort, min: 0, max: 65535, doc: 'gRPC listen port (0 = pick a free one)' }),
    grpcHost: string({ env: 'TESSERA_GRPC_HOST', default: '127.0.0.1', doc: 'gRPC listen address: loopback by default, so internal ports are not reachable from other hosts outside Kubernetes; the chart and the images set 0.0.0.0' }),
    serviceToken: string({ env: 'TESSERA_SERVICE_TOKEN', optional: true, minLength: 16, doc: 'service credential: internal gRPC ports refuse calls without it in `tessera-service-token` metadata (UNAUTHENTICATED) and only then trust `tessera-tenant`; required when TESSERA_GRPC_HOST is not loopback (the chart sets both)' }),
    metricsPort: int({ env: 'TESSERA_METRICS_PORT', default: d.metricsPort ?? 9464 + (d.grpcPort % 10), min: 0, max: 65535, doc: 'Prometheus /metrics port (0 = pick a free one)' }),
    otlpEndpoint: url({ env: 'OTEL_EXPORTER_OTLP_ENDPOINT', optional: true, protocols: ['http', 'https'], doc: 'OTLP/HTTP collector; unset = no trace export' }),
    traceSampleRatio: number({ env: 'TESSERA_TRACE_SAMPLE_RATIO', default: 1, min: 0, max: 1, doc: 'fraction of new traces sampled' }),
    claimCheckThreshold: bytes({ env: 'TESSERA_CLAIM_CHECK_THRESHOLD', default: 512 * 1024, min: 1024, max: 1024 * 1024, doc: 'payloads above this go to the object store (NATS max_payload is 1MiB)' }),
    objectStoreBucket: string({ env: 'TESSERA_OBJECT_BUCKET', default: 'tessera-payloads', pattern: /^[A-Za-z0-9_-]+$/, doc: 'JetStream object store bucket for claim checks' }),
    objectTtl: duration({ env: 'TESSERA_OBJECT_TTL', default: 3_600_000, min: 1_000, doc: 'how long claim-check objects live (bucket max age)' }),
    shutdownGrace: duration({ env: 'TESSERA_SHUTDOWN_GRACE', default: 25_000, min: 0, max: 600_000, doc: 'time to finish in-flight work after SIGTERM before naking it back' }),
    defaultDeadline: duration({ env: 'TESSERA_DEFAULT_DEADLINE', default: 60_000, min: 100, doc: 'deadline applied to calls that arrive without one' }),
    maxConcurrency: int({ env: 'TESSERA_MAX_CONCURRENCY', default: 4, min: 1, max: 1024, doc: 'in-flight jobs per process (work-queue pull batch)' }),
    ackWait: duration({ env: 'TESSERA_ACK_WAIT', default: 30_000, min: 1_000, doc: 'JetStream ack wait; workers heartbeat at a third of it' }),
    jetstreamReplicas: int({ env: 'TESSERA_JETSTREAM_REPLICAS', default: 1, min: 1, max: 5, doc: 'replicas of the streams and buckets a service creates (work queues, claim checks); 3 on a clustered JetStream' }),
    streamHeartbeat: duration({ env: 'TESSERA_STREAM_HEARTBEAT', default: 1_000, min: 0, max: 60_000, doc: 'server streams over NATS send a heartbeat this often when idle; two missed end (or resume) the stream at the caller (0 = off)' }),
    maxDeliver: int({ env: 'TESSERA_MAX_DELIVER', default: 5, min: 1, max: 100, doc: 'deliveries before a job is terminated as poison' }),
    logLevel: oneOf(['debug', 'info', 'warn', 'error'], { env: 'TESSERA_LOG_LEVEL', default: 'info', doc: 'log verbosity' }),
    healthEnabled: bool({ env: 'TESSERA_GRPC_HEALTH', default: true, doc: 'serve grpc.health.v1' }),
  } as const;
}

/**
 * The encoder cache's keys, shared by every process that opens it (the gateway looks entries up,
 * the resampler writes them): both must agree on the bucket, the TTL and the cap.
 */
export function encoderCacheConfig() {
  return {
    encoderCacheBucket: string({ env: 'TESSERA_ENCODER_CACHE_BUCKET', default: 'tessera-encoder-cache', pattern: /^[A-Za-z0-9_-]+$/, doc: 'JetStream KV + object store bucket of the encoder cache' }),
    encoderCacheTtl: duration({ env: 'TESSERA_ENCODER_CACHE_TTL', default: 24 * 3_600_000, min: 1000, doc: 'how long visual tokens of an image stay cached' }),
    encoderCacheMaxBytes: bytes({ env: 'TESSERA_ENCODER_CACHE_MAX_BYTES', default: 1024 ** 3, min: 1024 * 1024, doc: 'size cap of the encoder cache (oldest dropped first)' }),
  } as const;
}

/**
 * The image store's keys (gateway writes at admission; feedback reads for exports and erases).
 * The retention must cover the longest feedback retention: an exported row needs its image.
 */
export function imageStoreConfig() {
  return {
    imageBucket: string({ env: 'TESSERA_IMAGE_BUCKET', default: 'tessera-images', pattern: /^[A-Za-z0-9_-]+$/, doc: 'JetStream object store bucket holding each admitted image once per tenant' }),
    imageRetention: duration({ env: 'TESSERA_IMAGE_RETENTION', default: 90 * 86_400_000, min: 60_000, doc: 'how long an image stays stored after its last use (match TESSERA_FEEDBACK_RETENTION)' }),
  } as const;
}
