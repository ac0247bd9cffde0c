import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/**
 * Forwards to a processor that is still loading. The OTLP exporter costs ~1 s of import time on a
 * loaded 2-core machine, so it is imported lazily instead of delaying every process start;
 * spans ended before it is ready are buffered (up to 2048) and handed over when it is.
 */
export class DeferredSpanProcessor implements SpanProcessor {
  private target: SpanProcessor | undefined;
  private readonly buffer: ReadableSpan[] = [];
  private readonly ready: Promise<void>;

  constructor(load: () => Promise<SpanProcessor>) {
    this.ready = load().then(
      (p) => {
        this.target = p;
        for (const s of this.buffer.splice(0)) p.onEnd(s);
      },
      (err: unknown) => {
        process.stderr.write(`telemetry: span exporter failed to load: ${String(err)}\n`);
      },
    );
  }

  onStart(span: Span, parent: Context): void {
    this.target?.onStart(span, parent);
  }

  onEnd(span: ReadableSpan): void {
    if (this.target) this.target.onEnd(span);
    else if (this.buffer.length < 2048) this.buffer.push(span);
  }

  async forceFlush(): Promise<void> {
    await this.ready;
    await this.target?.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.ready;
    await this.target?.shutdown();
  }
}
