/**
 * One call to run a service process: gRPC server (health + reflection), NATS bindings (request/
 * reply and work queue), Prometheus /metrics, OpenTelemetry, and graceful shutdown on SIGTERM/SIGINT:
 *   1. health NOT_SERVING; stop taking work (unsubscribe, stop pulling; gRPC tryShutdown refuses new calls)
 *   2. finish in-flight work for up to `shutdownGrace`; past it, abort calls and nak jobs back
 *   3. `onShutdown` hook, NATS drain, metrics server close, span flush, exit 0.
 */
import type { NatsConnection } from 'nats';
import { connectNats } from './nats/connect.js';
import type { commonServiceConfig, ConfigOf } from '@tessera/config';
import { activeTelemetry, metrics, startMetricsServer, startTelemetry, type MetricsServer } from '@tessera/telemetry';
import type { ServiceDefinition, ServiceImpl } from './definition.js';
import { GrpcServer } from './grpc/server.js';
import { NatsBinding } from './nats/server.js';
import { busState } from './nats/bus-state.js';
import type { WorkQueueOptions } from './nats/work-queue.js';
import { consoleLogger, type Logger } from './logger.js';
import { ErrorCode, TesseraError } from '@tessera/errors';

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');

export type CommonConfig = ConfigOf<ReturnType<typeof commonServiceConfig>>;

export interface HostedService<D extends ServiceDefinition = ServiceDefinition> {
  definition: D;
  impl: ServiceImpl<D>;
  /** Serve these methods from the stage's JetStream work queue (the rest use request/reply). */
  workQueue?: Pick<WorkQueueOptions, 'stage'> & Partial<Omit<WorkQueueOptions, 'methods'>> & { methods: readonly (keyof D & string)[] };
  /** Request/reply subjects under this namespace instead of the package's (NatsBindingOptions.namespace). */
  namespace?: string;
  /** Default true; the gateway's public API sets false (it authenticates and sets the tenant itself). */
  requireTenant?: boolean;
  /** Bind to gRPC (default true) and NATS (default true). */
  grpc?: boolean;
  nats?: boolean;
}

/** Helper that keeps each entry's definition and impl types tied together. */
export function hosted<D extends ServiceDefinition>(s: HostedService<D>): HostedService {
  return s as unknown as HostedService;
}

export interface ServiceHostOptions {
  config: CommonConfig;
  services: HostedService[];
  /** .proto files for gRPC reflection (see GrpcServerOptions.reflection). */
  reflection?: { protoFiles: string[]; includeDirs?: string[] };
  /** Use this connection instead of connecting to config.natsUrl (not drained on shutdown). */
  nc?: NatsConnection;
  /** Skip the gRPC server / NATS / metrics endpoint entirely. */
  grpc?: boolean;
  nats?: boolean;
  metricsEndpoint?: boolean;
  /** Start OpenTelemetry (default true; in-memory exporter for tests). */
  telemetry?: boolean | { inMemory?: boolean };
  /** Install SIGTERM/SIGINT handlers that shut down and exit (default true). */
  handleSignals?: boolean;
  /** Print the READY_PREFIX line (default true). A process hosting several services (services/combined) prints its own once all serve. */
  announceReady?: boolean;
  /** Runs after in-flight work finished, before NATS drains (close model sessions, flush stores). */
  onShutdown?: () => Promise<void> | void;
  logger?: Logger;
}

/**
 * What every service's `compose.ts` returns: the wiring `startService` needs besides the config, with
 * the NATS connection compose opened (compose is the one place a service connects; its onShutdown
 * drains it). `main.ts` is then `startService({ config, ...(await compose(config)) })`.
 */
export type ServiceComposition = Omit<ServiceHostOptions, 'config' | 'nc'> & { nc: NatsConnection };

/** Line printed on stdout when the service is ready; `spawnService` in @tessera/testing waits for it. */
export const READY_PREFIX = 'tessera-ready ';

export interface ServiceHost {
  readonly nc: NatsConnection | undefined;
  readonly grpcPort: number | undefined;
  readonly metricsPort: number | undefined;
  /** Idempotent graceful shutdown (does not exit the process). */
  shutdown(): Promise<void>;
}

export async function startService(o: ServiceHostOptions): Promise<ServiceHost> {
  const cfg = o.config;
  const log = o.logger ?? consoleLogger(cfg.serviceName, cfg.logLevel);
  if (o.telemetry !== false && !activeTelemetry()) {
    startTelemetry({
      serviceName: cfg.serviceName,
      otlpEndpoint: cfg.otlpEndpoint,
      sampleRatio: cfg.traceSampleRatio,
      inMemory: typeof o.telemetry === 'object' ? o.telemetry.inMemory : false,
    });
  }
  const payload = { claimThresholdBytes: cfg.claimCheckThreshold, bucket: cfg.objectStoreBucket, ttlMs: cfg.objectTtl, replicas: cfg.jetstreamReplicas };

  let nc: NatsConnection | undefined;
  const bindings: NatsBinding[] = [];
  if (o.nats !== false) {
    nc = o.nc ?? (await connectNats(cfg));
    for (const s of o.services) {
      if (s.nats === false) continue;
      bindings.push(
        new NatsBinding(nc, s.definition, s.impl, {
          serviceName: cfg.serviceName,
          requireTenant: s.requireTenant,
          ...(s.namespace !== undefined && { namespace: s.namespace }),
          defaultDeadlineMs: cfg.defaultDeadline,
          payload,
          logger: log,
          workQueue: s.workQueue && {
            concurrency: cfg.maxConcurrency,
            ackWaitMs: cfg.ackWait,
            maxDeliver: cfg.maxDeliver,
            replicas: cfg.jetstreamReplicas,
            ...s.workQueue,
          },
        }),
      );
    }
  }

  let grpc: GrpcServer | undefined;
  if (o.grpc !== false && o.services.some((s) => s.grpc !== false)) {
    // An internal port (tenant taken from a header) reachable from other hosts must authenticate its callers.
    const internal = o.services.some((s) => s.grpc !== false && s.requireTenant !== false);
    if (internal && !cfg.serviceToken && !isLoopback(cfg.grpcHost)) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `TESSERA_GRPC_HOST=${cfg.grpcHost} exposes an internal gRPC port beyond this host: set TESSERA_SERVICE_TOKEN (the shared service credential) or bind 127.0.0.1`, { field: 'TESSERA_SERVICE_TOKEN' });
    }
    grpc = new GrpcServer({ host: cfg.grpcHost, port: cfg.grpcPort, defaultDeadlineMs: cfg.defaultDeadline, reflection: o.reflection, health: cfg.healthEnabled, ...(cfg.serviceToken && { serviceToken: cfg.serviceToken }) });
    for (const s of o.services) if (s.grpc !== false) grpc.add(s.definition, s.impl, { requireTenant: s.requireTenant });
  }

  let metricsServer: MetricsServer | undefined;
  if (o.metricsEndpoint !== false) {
    metrics().collectProcessMetrics();
    metricsServer = await startMetricsServer(cfg.metricsPort);
  }
  for (const b of bindings) await b.start();
  const grpcPort = grpc ? await grpc.start() : undefined;
  let shuttingDown = false;
  if (nc && grpc) {
    // Readiness follows the bus: a process that cannot reach NATS cannot serve (its gRPC calls fan out over it).
    const bus = busState(nc);
    bus.onChange((up) => {
      if (shuttingDown) return;
      grpc!.setServing(up);
      log.warn(up ? 'nats reconnected: serving' : 'nats disconnected: NOT_SERVING until it reconnects');
    });
  }

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      log.info('shutting down', { graceMs: cfg.shutdownGrace });
      shuttingDown = true;
      grpc?.setServing(false);
      await Promise.all(bindings.map((b) => b.stopTaking()));
      await Promise.all([grpc?.shutdown(cfg.shutdownGrace), ...bindings.map((b) => b.drainInFlight(cfg.shutdownGrace))]);
      try {
        await o.onShutdown?.();
      } catch (err) {
        log.error('onShutdown hook failed', { err: String(err) });
      }
      if (nc && !o.nc) await nc.drain().catch(() => {});
      await metricsServer?.close();
      await activeTelemetry()?.flush().catch(() => {});
      log.info('stopped');
    })());

  if (o.handleSignals !== false) exitOnSignals(log, shutdown);

  const host: ServiceHost = { nc, grpcPort, metricsPort: metricsServer?.port, shutdown };
  if (o.announceReady !== false) process.stdout.write(`${READY_PREFIX}${JSON.stringify({ service: cfg.serviceName, pid: process.pid, grpcPort, metricsPort: metricsServer?.port })}\n`);
  return host;
}

/** On the first SIGTERM/SIGINT: `shutdown`, then exit (0, or 1 when it failed). */
export function exitOnSignals(log: Logger, shutdown: () => Promise<void>): void {
  const onSignal = (signal: NodeJS.Signals) => {
    log.info('signal received', { signal });
    void shutdown().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
