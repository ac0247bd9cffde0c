/**
 * Every span and metric name Tessera emits, in one place, so dashboards, alerts and code agree.
 * GenAI semantic conventions (`gen_ai.*`) where they apply; vLLM-compatible names for the decoder
 * so existing dashboards and autoscalers work unchanged.
 */

/** Span names. RPC spans are named `{rpc.service}/{rpc.method}` (OTel RPC conventions). */
export const SpanName = {
  /** NATS publish of a call (PRODUCER): `send tessera.work.decoder.…` */
  natsSend: (subject: string) => `send ${subject}`,
  /** NATS/JetStream processing of a call (CONSUMER): `process tessera.work.decoder.…` */
  natsProcess: (subject: string) => `process ${subject}`,
  /** gRPC client/server span: `tessera.decoder.v1.DecoderService/Generate` */
  rpc: (fullService: string, method: string) => `${fullService}/${method}`,
  /** GenAI conventions: `{gen_ai.operation.name} {gen_ai.request.model}` */
  genAi: (operation: 'chat' | 'embeddings' | 'text_completion', model: string) => `${operation} ${model}`,
  objectPut: 'object_store put',
  objectGet: 'object_store get',
} as const;

/** Span attribute keys. */
export const Attr = {
  rpcSystem: 'rpc.system',
  rpcService: 'rpc.service',
  rpcMethod: 'rpc.method',
  rpcGrpcStatusCode: 'rpc.grpc.status_code',
  messagingSystem: 'messaging.system',
  messagingOperation: 'messaging.operation.type',
  messagingDestination: 'messaging.destination.name',
  messagingConsumerGroup: 'messaging.consumer.group.name',
  messagingMessageId: 'messaging.message.id',
  messagingDeliveryCount: 'messaging.nats.delivery_count',
  errorType: 'error.type',
  tenant: 'tessera.tenant',
  requestId: 'tessera.request_id',
  transport: 'tessera.transport',
  genAiSystem: 'gen_ai.system',
  genAiOperation: 'gen_ai.operation.name',
  genAiRequestModel: 'gen_ai.request.model',
  genAiResponseId: 'gen_ai.response.id',
  genAiInputTokens: 'gen_ai.usage.input_tokens',
  genAiOutputTokens: 'gen_ai.usage.output_tokens',
  genAiMaxTokens: 'gen_ai.request.max_tokens',
} as const;

export type MetricKind = 'counter' | 'histogram' | 'gauge';

export interface MetricSpec {
  readonly name: string;
  readonly kind: MetricKind;
  readonly help: string;
  readonly labels: readonly string[];
  /** Histogram buckets (seconds unless the name says otherwise). */
  readonly buckets?: readonly number[];
}

const LATENCY_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536];

/** Metric names. Prometheus-safe (dots become underscores in exposition). */
export const Metric = {
  // Runtime (every service, every transport).
  rpcServerDuration: { name: 'tessera_rpc_server_duration_seconds', kind: 'histogram', help: 'Server-side call duration by method, transport and result code', labels: ['method', 'transport', 'code'], buckets: LATENCY_S },
  rpcServerInFlight: { name: 'tessera_rpc_server_in_flight', kind: 'gauge', help: 'Calls being handled now', labels: ['method', 'transport'] },
  rpcClientDuration: { name: 'tessera_rpc_client_duration_seconds', kind: 'histogram', help: 'Client-side call duration by method, transport and result code', labels: ['method', 'transport', 'code'], buckets: LATENCY_S },
  deadlineDropped: { name: 'tessera_deadline_dropped_total', kind: 'counter', help: 'Calls dropped before compute because their deadline had passed', labels: ['method', 'transport'] },
  badInput: { name: 'tessera_bad_input_total', kind: 'counter', help: 'Calls rejected before the handler (malformed, unknown method, missing tenant, oversized)', labels: ['method', 'transport', 'code'] },
  jobsRedelivered: { name: 'tessera_jobs_redelivered_total', kind: 'counter', help: 'JetStream jobs received with delivery count > 1', labels: ['stage'] },
  jobsPoison: { name: 'tessera_jobs_poison_total', kind: 'counter', help: 'JetStream jobs terminated as poison', labels: ['stage', 'reason'] },
  jobsNaked: { name: 'tessera_jobs_naked_total', kind: 'counter', help: 'JetStream jobs naked back for redelivery (retryable error or shutdown)', labels: ['stage', 'reason'] },
  claimCheckBytes: { name: 'tessera_claim_check_bytes_total', kind: 'counter', help: 'Bytes moved through the object store as claim checks', labels: ['direction'] },
  streamChunks: { name: 'tessera_stream_chunks_total', kind: 'counter', help: 'Server-streaming chunks sent', labels: ['method', 'transport'] },
  streamResumes: { name: 'tessera_stream_resumes_total', kind: 'counter', help: 'Server streams restarted on another replica after their server went silent (missed heartbeats)', labels: ['method'] },
  // GenAI semantic conventions (histograms in the units the spec gives).
  genAiClientTokenUsage: { name: 'gen_ai_client_token_usage', kind: 'histogram', help: 'gen_ai.client.token.usage: tokens per request by gen_ai.token.type (input|output)', labels: ['gen_ai_operation_name', 'gen_ai_request_model', 'gen_ai_token_type'], buckets: TOKEN_BUCKETS },
  genAiServerRequestDuration: { name: 'gen_ai_server_request_duration_seconds', kind: 'histogram', help: 'gen_ai.server.request.duration', labels: ['gen_ai_operation_name', 'gen_ai_request_model'], buckets: LATENCY_S },
  genAiServerTimeToFirstToken: { name: 'gen_ai_server_time_to_first_token_seconds', kind: 'histogram', help: 'gen_ai.server.time_to_first_token', labels: ['gen_ai_request_model'], buckets: LATENCY_S },
  genAiServerTimePerOutputToken: { name: 'gen_ai_server_time_per_output_token_seconds', kind: 'histogram', help: 'gen_ai.server.time_per_output_token', labels: ['gen_ai_request_model'], buckets: LATENCY_S },
  // HTTP server (OTel HTTP semantic conventions: http.server.request.duration, http.server.active_requests).
  httpServerRequestDuration: { name: 'http_server_request_duration_seconds', kind: 'histogram', help: 'http.server.request.duration: HTTP request duration by method, route and status', labels: ['http_request_method', 'http_route', 'http_response_status_code'], buckets: LATENCY_S },
  httpServerActiveRequests: { name: 'http_server_active_requests', kind: 'gauge', help: 'http.server.active_requests: HTTP requests being served now', labels: ['http_request_method'] },
  // vLLM request-level names, measured at the gateway where the user feels them (vision stages,
  // queueing and the network hop included), labelled with the API model id clients send.
  vllmE2eRequestLatency: { name: 'vllm:e2e_request_latency_seconds', kind: 'histogram', help: 'Request arrival at the gateway to the last byte of the answer', labels: ['model_name'], buckets: LATENCY_S },
  vllmRequestSuccess: { name: 'vllm:request_success_total', kind: 'counter', help: 'Finished requests by finished_reason (stop|length|cancelled|error)', labels: ['model_name', 'finished_reason'] },
  vllmRequestPromptTokens: { name: 'vllm:request_prompt_tokens', kind: 'histogram', help: 'Prompt tokens per request (text + visual)', labels: ['model_name'], buckets: TOKEN_BUCKETS },
  vllmRequestGenerationTokens: { name: 'vllm:request_generation_tokens', kind: 'histogram', help: 'Generated tokens per request', labels: ['model_name'], buckets: TOKEN_BUCKETS },
  vllmRequestMaxTokens: { name: 'vllm:request_params_max_tokens', kind: 'histogram', help: 'max_tokens asked for per request', labels: ['model_name'], buckets: TOKEN_BUCKETS },
  // Tenant totals (gateway), as counters.
  tenantRequests: { name: 'tessera_tenant_requests_total', kind: 'counter', help: 'Completed chat requests per tenant', labels: ['tenant'] },
  tenantPromptTokens: { name: 'tessera_tenant_prompt_tokens_total', kind: 'counter', help: 'Prompt tokens (text + visual) per tenant', labels: ['tenant'] },
  tenantCompletionTokens: { name: 'tessera_tenant_completion_tokens_total', kind: 'counter', help: 'Completion tokens per tenant', labels: ['tenant'] },
  tenantRejected: { name: 'tessera_tenant_rejected_requests_total', kind: 'counter', help: 'Requests rejected by a quota per tenant', labels: ['tenant'] },
  tenantConcurrentStreams: { name: 'tessera_tenant_concurrent_streams', kind: 'gauge', help: 'Requests in flight per tenant', labels: ['tenant'] },
  // Edge sites (edge gateway): the uplink to the hub and the site's feedback backlog.
  edgeHubLinkUp: { name: 'tessera_edge_hub_link_up', kind: 'gauge', help: '1 while the hub answers over the leaf link, 0 while it does not', labels: ['site'] },
  edgeFeedbackPending: { name: 'tessera_edge_feedback_pending', kind: 'gauge', help: 'Feedback events recorded at the site during the current outage, not yet at the hub', labels: ['site'] },
  edgeFeedbackDropped: { name: 'tessera_edge_feedback_dropped_total', kind: 'counter', help: "Feedback events the site stream discarded during an outage, as the site sees them (bounded estimate; the hub's tessera_feedback_site_events_dropped_total is exact)", labels: ['site'] },
  // Hub feedback service: gaps in each site's sourced sequences (libs/edge source-gaps.ts).
  feedbackSiteDropped: { name: 'tessera_feedback_site_events_dropped_total', kind: 'counter', help: "Feedback events a site's stream discarded (oldest first, its limits) before the hub sourced them: exact, from the sequence gaps the hub sees", labels: ['site'] },
  edgeFallbacks: { name: 'tessera_edge_fallbacks_total', kind: 'counter', help: 'Requests for a hub model answered by a site model while the hub was unreachable', labels: ['site', 'model', 'fallback'] },
  // vLLM-compatible names. Scheduler state comes from the decoder (EPP scorers and KEDA read these
  // per pod); the request-level histograms (TTFT, inter-token latency, token totals) from the gateway.
  vllmRequestsRunning: { name: 'vllm:num_requests_running', kind: 'gauge', help: 'Sequences being decoded now', labels: ['model_name'] },
  vllmRequestsWaiting: { name: 'vllm:num_requests_waiting', kind: 'gauge', help: 'Sequences waiting for a decode slot', labels: ['model_name'] },
  vllmKvCacheUsage: { name: 'vllm:kv_cache_usage_perc', kind: 'gauge', help: 'KV-cache usage, 0..1', labels: ['model_name'] },
  vllmTimeToFirstToken: { name: 'vllm:time_to_first_token_seconds', kind: 'histogram', help: 'Request arrival at the gateway to the first output token (vision stages included)', labels: ['model_name'], buckets: LATENCY_S },
  vllmInterTokenLatency: { name: 'vllm:inter_token_latency_seconds', kind: 'histogram', help: 'Time between output tokens as the gateway receives them', labels: ['model_name'], buckets: LATENCY_S },
  vllmPromptTokens: { name: 'vllm:prompt_tokens_total', kind: 'counter', help: 'Prompt tokens processed', labels: ['model_name'] },
  vllmGenerationTokens: { name: 'vllm:generation_tokens_total', kind: 'counter', help: 'Tokens generated', labels: ['model_name'] },
} as const satisfies Record<string, MetricSpec>;
