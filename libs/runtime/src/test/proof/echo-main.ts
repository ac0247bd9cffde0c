/**
 * The proof service as a process (tests spawn it; `node --import tsx echo-main.ts`).
 * Config from the environment through @tessera/config like every service; extra test knobs:
 *   ECHO_PRINT_SPANS=1  print each finished span as a `span {json}` line on stdout
 * It prints `started <method> <requestId> attempt=<n>` when a handler starts.
 */
import { ExportResultCode } from '@opentelemetry/core';
import { bool, commonServiceConfig, loadConfig } from '@tessera/config';
import { startTelemetry, type ReadableSpan, type SpanExporter } from '@tessera/telemetry';
import { hosted, startService } from '../../service-host.js';
import { ECHO_WORK_QUEUE, EchoServiceService, echoService } from './echo-service.js';

const config = loadConfig({
  ...commonServiceConfig({ serviceName: 'echo', grpcPort: 0, metricsPort: 0 }),
  printSpans: bool({ env: 'ECHO_PRINT_SPANS', default: false }),
});

const printer: SpanExporter = {
  export(spans: ReadableSpan[], done) {
    for (const s of spans) {
      const line = { name: s.name, kind: s.kind, traceId: s.spanContext().traceId, spanId: s.spanContext().spanId, parentSpanId: s.parentSpanContext?.spanId, service: s.resource.attributes['service.name'] };
      process.stdout.write(`span ${JSON.stringify(line)}\n`);
    }
    done({ code: ExportResultCode.SUCCESS });
  },
  shutdown: async () => {},
};
startTelemetry({ serviceName: config.serviceName, otlpEndpoint: config.otlpEndpoint, exporters: config.printSpans ? [printer] : [] });

await startService({
  config,
  services: [
    hosted({
      definition: EchoServiceService,
      impl: echoService({ onStart: (m, ctx) => process.stdout.write(`started ${m} ${ctx.requestId} attempt=${ctx.attempt}\n`) }),
      workQueue: { ...ECHO_WORK_QUEUE, backoffMs: [200] },
    }),
  ],
});
