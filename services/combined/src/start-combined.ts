/**
 * Runs several GPU stages in one process, so one pod (and one GPU) serves them: each stage is
 * composed and started with `startService` exactly as its own main.ts does (its NATS user, queue
 * group, work-queue consumer and gRPC port), one after another in TESSERA_STAGES order so the first
 * stage already pulls work while the next one loads its weights. What a process has once is done
 * here once: OpenTelemetry, the /metrics endpoint (one registry holds every stage's series), the
 * signal handler (every stage drains its own in-flight work, each within its own
 * TESSERA_SHUTDOWN_GRACE, in parallel) and the ready line, printed when the last stage serves.
 */
import { consoleLogger, exitOnSignals, READY_PREFIX, startService, type ServiceHost } from '@tessera/runtime';
import { activeTelemetry, metrics, startMetricsServer, startTelemetry } from '@tessera/telemetry';
import { composeStage } from './compose.js';
import type { CombinedConfig } from './config.js';
import type { StageName } from './stage-env.js';

export interface CombinedHost {
  /** Each running stage's host (its gRPC port, NATS connection), in start order. */
  readonly stages: ReadonlyMap<StageName, ServiceHost>;
  readonly metricsPort: number;
  /** Idempotent graceful shutdown of every stage (does not exit the process). */
  shutdown(): Promise<void>;
}

export interface StartCombinedOptions {
  /** Install SIGTERM/SIGINT handlers that shut every stage down and exit (default true). */
  handleSignals?: boolean;
}

export async function startCombined(config: CombinedConfig, opts: StartCombinedOptions = {}): Promise<CombinedHost> {
  const log = consoleLogger(config.serviceName, config.logLevel);
  if (!activeTelemetry()) startTelemetry({ serviceName: config.serviceName, otlpEndpoint: config.otlpEndpoint, sampleRatio: config.traceSampleRatio });
  metrics().collectProcessMetrics();
  const metricsServer = await startMetricsServer(config.metricsPort);
  const stages = new Map<StageName, ServiceHost>();

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      await Promise.all([...stages.values()].map((h) => h.shutdown()));
      await metricsServer.close();
      await activeTelemetry()?.flush().catch(() => {});
    })());

  try {
    for (const stage of config.stages) {
      const started = Date.now();
      const { config: stageConfig, composition } = await composeStage(stage, config.stageConfigs);
      // The process owns signals, telemetry, /metrics and the ready line; the stage owns the rest.
      stages.set(stage, await startService({ config: stageConfig, ...composition, handleSignals: false, metricsEndpoint: false, announceReady: false }));
      log.info('stage serving', { stage, grpcPort: stages.get(stage)!.grpcPort, startMs: Date.now() - started });
    }
  } catch (err) {
    await shutdown();
    throw err;
  }

  if (opts.handleSignals !== false) exitOnSignals(log, shutdown);

  const ports = Object.fromEntries([...stages].map(([s, h]) => [s, { grpcPort: h.grpcPort }]));
  process.stdout.write(`${READY_PREFIX}${JSON.stringify({ service: config.serviceName, pid: process.pid, stages: ports, metricsPort: metricsServer.port })}\n`);
  return { stages, metricsPort: metricsServer.port, shutdown };
}
