/**
 * Decoder metrics, fed by engine events. Three families:
 *  - vLLM's scheduler-state names (`vllm:num_requests_running`, `vllm:num_requests_waiting`,
 *    `vllm:kv_cache_usage_perc`, queue/prefill time, prefix cache; label `model_name`). These are
 *    per-pod engine state that the consumers that matter (Gateway API Inference Extension / llm-d EPP
 *    scorers, KEDA Prometheus recipes) read verbatim, so they keep vLLM's names and units.
 *  - engine-level request timings under our own names (`tessera_decoder_*`): the user-facing
 *    `vllm:time_to_first_token_seconds`, `vllm:e2e_request_latency_seconds`, … are measured at the
 *    gateway (vision stages included, issue 17); the decoder's own view (submit → first token inside
 *    the engine) must not land in the same series and halve every dashboard's TTFT.
 *  - the OpenTelemetry GenAI semantic conventions (gen_ai.server.*, gen_ai.client.token.usage).
 */
import { Metric, metrics, type MetricSpec, type MetricsRegistry } from '@tessera/telemetry';
import type { EngineStats } from '../domain/engine/engine.js';
import type { EngineObserver } from '../domain/engine/observer.js';
import type { FinishReason, Timings, Usage } from '../domain/engine/types.js';

const LATENCY_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** vLLM names that @tessera/telemetry does not list (same semantics as vLLM's docs/design/metrics.md). */
export const DecoderMetric = {
  requestSuccess: { name: 'tessera_decoder_requests_finished_total', kind: 'counter', help: 'Sequences finished by finished_reason (stop|length|cancelled|error)', labels: ['model_name', 'finished_reason'] },
  e2eLatency: { name: 'tessera_decoder_request_latency_seconds', kind: 'histogram', help: 'Submit to last token inside the decoder', labels: ['model_name'], buckets: LATENCY_S },
  timeToFirstToken: { name: 'tessera_decoder_time_to_first_token_seconds', kind: 'histogram', help: 'Submit to first token inside the decoder (queue + prefill; the user-facing TTFT is the gateway\'s vllm:time_to_first_token_seconds)', labels: ['model_name'], buckets: LATENCY_S },
  interTokenLatency: { name: 'tessera_decoder_inter_token_latency_seconds', kind: 'histogram', help: 'Between consecutive tokens of a sequence inside the engine', labels: ['model_name'], buckets: LATENCY_S },
  promptTokens: { name: 'tessera_decoder_prompt_tokens_total', kind: 'counter', help: 'Prompt tokens prefilled', labels: ['model_name'] },
  generationTokens: { name: 'tessera_decoder_generation_tokens_total', kind: 'counter', help: 'Tokens generated', labels: ['model_name'] },
  queueTime: { name: 'vllm:request_queue_time_seconds', kind: 'histogram', help: 'Time waiting for admission', labels: ['model_name'], buckets: LATENCY_S },
  prefillTime: { name: 'vllm:request_prefill_time_seconds', kind: 'histogram', help: 'Prompt prefill time', labels: ['model_name'], buckets: LATENCY_S },
  prefixQueries: { name: 'vllm:prefix_cache_queries_total', kind: 'counter', help: 'Prefix cache queries, in prompt tokens looked up (as vLLM v1 counts)', labels: ['model_name'] },
  prefixHits: { name: 'vllm:prefix_cache_hits_total', kind: 'counter', help: 'Prefix cache hits, in prompt tokens served from cached KV blocks', labels: ['model_name'] },
  preemptions: { name: 'vllm:num_preemptions_total', kind: 'counter', help: 'Sequences preempted (recompute) because KV blocks ran out', labels: ['model_name'] },
  kvBlocksUsed: { name: 'tessera_decoder_kv_blocks_used', kind: 'gauge', help: 'KV blocks held by live sequences', labels: ['model_name'] },
  kvBlocksCached: { name: 'tessera_decoder_kv_blocks_cached', kind: 'gauge', help: 'Free KV blocks still holding a cached prefix (evicted LRU on demand)', labels: ['model_name'] },
  kvBlocksTotal: { name: 'tessera_decoder_kv_blocks_total', kind: 'gauge', help: 'KV blocks in the pool (TESSERA_DECODER_KV_BUDGET / block bytes)', labels: ['model_name'] },
  rejected: { name: 'tessera_decoder_rejected_total', kind: 'counter', help: 'Requests refused at admission by code (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, …)', labels: ['model_name', 'code'] },
  visualTokens: { name: 'tessera_decoder_visual_tokens_total', kind: 'counter', help: 'Visual token embeddings placed into prompts', labels: ['model_name'] },
  kvUsedBytes: { name: 'tessera_decoder_kv_used_bytes', kind: 'gauge', help: 'KV cache bytes held by live sequences', labels: ['model_name'] },
} as const satisfies Record<string, MetricSpec>;

export class DecoderMetrics implements EngineObserver {
  private readonly m: { model_name: string };
  private readonly g: { model: string; op: string };
  private lastPrefix = { q: 0, h: 0 };
  private readonly r: MetricsRegistry;

  constructor(modelName: string, registry: MetricsRegistry = metrics()) {
    this.r = registry;
    this.m = { model_name: modelName };
    this.g = { model: modelName, op: 'chat' };
  }

  onFirstToken(_tenant: string, ttftS: number, queueS: number, prefillS: number): void {
    this.r.histogram(DecoderMetric.timeToFirstToken).observe(this.m, ttftS);
    this.r.histogram(DecoderMetric.queueTime).observe(this.m, queueS);
    this.r.histogram(DecoderMetric.prefillTime).observe(this.m, prefillS);
    this.r.histogram(Metric.genAiServerTimeToFirstToken).observe({ gen_ai_request_model: this.g.model }, ttftS);
  }

  onToken(_tenant: string, interTokenS: number): void {
    this.r.histogram(DecoderMetric.interTokenLatency).observe(this.m, interTokenS);
    this.r.counter(DecoderMetric.generationTokens).inc(this.m);
  }

  onFinish(_tenant: string, reason: FinishReason, usage: Usage, t: Timings): void {
    if (usage.completionTokens > 0) this.r.counter(DecoderMetric.generationTokens).inc(this.m); // the first token
    this.r.counter(DecoderMetric.promptTokens).inc(this.m, usage.promptTokens);
    this.r.counter(DecoderMetric.visualTokens).inc(this.m, usage.visualTokens);
    this.r.counter(DecoderMetric.requestSuccess).inc({ ...this.m, finished_reason: reason });
    this.r.histogram(DecoderMetric.e2eLatency).observe(this.m, t.totalS);
    const ga = { gen_ai_operation_name: this.g.op, gen_ai_request_model: this.g.model };
    this.r.histogram(Metric.genAiServerRequestDuration).observe(ga, t.totalS);
    this.r.histogram(Metric.genAiClientTokenUsage).observe({ ...ga, gen_ai_token_type: 'input' }, usage.promptTokens);
    this.r.histogram(Metric.genAiClientTokenUsage).observe({ ...ga, gen_ai_token_type: 'output' }, usage.completionTokens);
    if (usage.completionTokens > 1) this.r.histogram(Metric.genAiServerTimePerOutputToken).observe({ gen_ai_request_model: this.g.model }, t.perTokenS);
  }

  onPreempted(count: number): void {
    this.r.counter(DecoderMetric.preemptions).inc(this.m, count);
  }

  onRejected(_tenant: string, code: string): void {
    this.r.counter(DecoderMetric.rejected).inc({ ...this.m, code });
  }

  /** Gauges from a stats snapshot (called every engine step and before a scrape). */
  onStats(s: EngineStats): void {
    this.r.gauge(Metric.vllmRequestsRunning).set(this.m, s.running);
    this.r.gauge(Metric.vllmRequestsWaiting).set(this.m, s.waiting);
    // vLLM: fraction of KV blocks in use (cached-but-free blocks count as free).
    this.r.gauge(Metric.vllmKvCacheUsage).set(this.m, s.kvBlocksTotal ? s.kvBlocksUsed / s.kvBlocksTotal : 0);
    this.r.gauge(DecoderMetric.kvUsedBytes).set(this.m, s.kvUsedBytes);
    this.r.gauge(DecoderMetric.kvBlocksUsed).set(this.m, s.kvBlocksUsed);
    this.r.gauge(DecoderMetric.kvBlocksCached).set(this.m, s.kvBlocksCached);
    this.r.gauge(DecoderMetric.kvBlocksTotal).set(this.m, s.kvBlocksTotal);
    if (s.prefixCacheQueries > this.lastPrefix.q) this.r.counter(DecoderMetric.prefixQueries).inc(this.m, s.prefixCacheQueries - this.lastPrefix.q);
    if (s.prefixCacheHits > this.lastPrefix.h) this.r.counter(DecoderMetric.prefixHits).inc(this.m, s.prefixCacheHits - this.lastPrefix.h);
    this.lastPrefix = { q: s.prefixCacheQueries, h: s.prefixCacheHits };
  }
}
