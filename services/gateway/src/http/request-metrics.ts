/**
 * User-facing metrics of the HTTP edge:
 *  - `http_server_request_duration_seconds` / `http_server_active_requests` (OTel HTTP semantic
 *    conventions; the route is the matched template, never the raw path, to bound cardinality);
 *  - vLLM's request-level names (`vllm:time_to_first_token_seconds`, `vllm:e2e_request_latency_seconds`,
 *    `vllm:inter_token_latency_seconds`, token counters and per-request histograms,
 *    `vllm:request_success_total`) measured from the moment the request arrived at the gateway, so
 *    image decoding, slicing, the vision encoder and the resampler are inside TTFT, labelled with the
 *    API model id the client sent (`model_name`), as vLLM labels its served model name.
 */
import { Metric, metrics, type MetricsRegistry } from '@tessera/telemetry';
import type { ChatUsage, FinishReason } from '../domain/chat-events.js';

/** Routes the gateway serves by template; anything else is `other` (playground assets, 404s). */
const ROUTES: Array<[RegExp, string]> = [
  [/^\/v1\/chat\/completions$/, '/v1/chat/completions'],
  [/^\/v1\/completions$/, '/v1/completions'],
  [/^\/v1\/responses$/, '/v1/responses'],
  [/^\/v1\/models$/, '/v1/models'],
  [/^\/v1\/models\/[^/]+$/, '/v1/models/{model}'],
  [/^\/v1\/embeddings$/, '/v1/embeddings'],
  [/^\/v1\/feedback(\/.*)?$/, '/v1/feedback'],
  [/^\/v1\/admin(\/.*)?$/, '/v1/admin'],
  [/^\/v1\/[^/]+/, '/v1/other'],
  [/^\/(health|healthz|readyz)$/, '/$1'],
  [/^\/(tokenize|detokenize|tokenizer_info)$/, '/$1'],
  [/^\/metrics$/, '/metrics'],
];

export function routeTemplate(path: string): string {
  for (const [re, template] of ROUTES) if (re.test(path)) return path.replace(re, template);
  return 'other';
}

export class HttpMetrics {
  constructor(private readonly r: MetricsRegistry = metrics()) {}

  /** Call when a request arrives; the returned function records it when the response is done. */
  begin(method: string): (route: string, status: number) => void {
    const t0 = performance.now();
    const m = normalizeMethod(method);
    this.r.gauge(Metric.httpServerActiveRequests).inc({ http_request_method: m });
    return (route, status) => {
      this.r.gauge(Metric.httpServerActiveRequests).dec({ http_request_method: m });
      this.r.histogram(Metric.httpServerRequestDuration).observe({ http_request_method: m, http_route: route, http_response_status_code: status }, (performance.now() - t0) / 1000);
    };
  }

  /** Request-level series of one chat completion; `arrivedAt` is `performance.now()` at arrival. */
  chat(model: string, arrivedAt: number): ChatObservation {
    return new ChatObservation(this.r, model, arrivedAt);
  }
}

export class ChatObservation {
  private firstTokenSeen = false;
  /** When each choice's previous token arrived (OpenAI `n`: choices stream side by side). */
  private readonly lastTokenAt = new Map<number, number>();
  private readonly labels: { model_name: string };

  constructor(
    private readonly r: MetricsRegistry,
    model: string,
    private readonly arrivedAt: number,
  ) {
    this.labels = { model_name: model };
  }

  /**
   * `n` tokens of choice `choice` reached the client now (one SSE chunk or, non-streamed, one decoder
   * chunk). TTFT is the request's first token of any choice (one request, whatever its `n`); the
   * inter-token gap is measured within a choice, as vLLM measures it per sequence — across
   * interleaved choices it would shrink with n and read as a faster decoder.
   */
  tokens(n: number, choice = 0): void {
    if (n <= 0) return;
    const now = performance.now();
    const last = this.lastTokenAt.get(choice);
    if (!this.firstTokenSeen) {
      this.firstTokenSeen = true;
      this.r.histogram(Metric.vllmTimeToFirstToken).observe(this.labels, (now - this.arrivedAt) / 1000);
      n -= 1;
    }
    if (last !== undefined) {
      // Tokens that arrive together share the gap, as vLLM attributes a multi-token step.
      const gap = (now - last) / 1000 / n;
      for (let i = 0; i < n; i++) this.r.histogram(Metric.vllmInterTokenLatency).observe(this.labels, gap);
    }
    this.lastTokenAt.set(choice, now);
  }

  /** The request answered: `usage` over all its choices (prompt once, completion tokens summed), one success count. */
  finish(reason: FinishReason, usage: ChatUsage, maxTokens: number): void {
    const prompt = usage.promptTokens; // the decoder's count, visual tokens included
    this.r.histogram(Metric.vllmE2eRequestLatency).observe(this.labels, (performance.now() - this.arrivedAt) / 1000);
    this.r.counter(Metric.vllmRequestSuccess).inc({ ...this.labels, finished_reason: reason });
    this.r.counter(Metric.vllmPromptTokens).inc(this.labels, prompt);
    this.r.counter(Metric.vllmGenerationTokens).inc(this.labels, usage.completionTokens);
    this.r.histogram(Metric.vllmRequestPromptTokens).observe(this.labels, prompt);
    this.r.histogram(Metric.vllmRequestGenerationTokens).observe(this.labels, usage.completionTokens);
    this.r.histogram(Metric.vllmRequestMaxTokens).observe(this.labels, maxTokens);
  }

  /** A request that failed after validation (the model is known): counted with reason `error` or `cancelled`. */
  fail(cancelled: boolean): void {
    this.r.histogram(Metric.vllmE2eRequestLatency).observe(this.labels, (performance.now() - this.arrivedAt) / 1000);
    this.r.counter(Metric.vllmRequestSuccess).inc({ ...this.labels, finished_reason: cancelled ? 'cancelled' : 'error' });
  }
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
/** OTel: unknown methods are recorded as `_OTHER`. */
function normalizeMethod(m: string): string {
  return METHODS.has(m) ? m : '_OTHER';
}
