/**
 * @tessera/runtime — one way to write a service.
 *
 * Implement a generated (ts-proto, outputServices=grpc-js) service definition once as a
 * `ServiceImpl<typeof XService>` (unary: `(req, ctx) => Promise<Res>`, server-streaming:
 * `(req, ctx) => AsyncIterable<Res>`), then bind it:
 *   - `startService({ config, services: [hosted({ definition, impl, workQueue? })] })` — a whole process
 *   - `new GrpcServer(opts).add(def, impl)` / `bindNats(nc, def, impl, opts)` — the adapters alone
 * and call it with `natsClient(nc, def, opts)` / `grpcClient(def, address)` / `localClient(def, impl)`.
 * See README.md for subjects, headers, streams, error mapping and config keys.
 */
export * from '@tessera/errors';
export type { ServiceDefinition, MethodDefinition, ServiceImpl, MethodImpl, RequestOf, ResponseOf } from './definition.js';
export { fullServiceName } from './definition.js';
export type { CallContext, CallOptions, Transport } from './context.js';
export type { ServiceClient, ClientMethod } from './client-types.js';
export { Header } from './wire-headers.js';
export type { ServerPolicy } from './server-call.js';

export { GrpcServer, type GrpcServerOptions } from './grpc/server.js';
export { grpcClient, type GrpcClientOptions } from './grpc/client.js';
export { toGrpcStatus, fromGrpcError } from './grpc/status.js';

export { NatsBinding, bindNats, type NatsBindingOptions } from './nats/server.js';
export { natsClient, DEFAULT_HEARTBEAT_MS, type NatsClientOptions, type TypedNatsClientOptions, type NatsCallOptions } from './nats/client.js';
export { busState, busDownError, BusState, BUS_RETRY_AFTER_MS } from './nats/bus-state.js';
export { connectNats, natsConnectionOptions, natsAuthFromEnv, defaultInboxPrefix, type NatsAuthConfig } from './nats/connect.js';
export type { WorkQueueOptions } from './nats/work-queue.js';
export type { PayloadPolicy } from './nats/payload.js';
export { errorHeaders, errorFromHeaders } from './nats/status.js';
export { controlSubject, workSubject, streamName, durableName, poisonAdvisorySubject } from './nats/subjects.js';
export { ensureWorkStream, workStreamConfig, workConsumerConfig, WORK_STREAM_LIMITS, DEFAULT_CONSUMER_SETTINGS, type ConsumerSettings } from './nats/streams.js';

export {
  putPayload,
  getPayload,
  statPayload,
  deletePayload,
  purgeTenantPayloads,
  objectName,
  tenantPrefix,
  sha256Hex,
  type ObjectRef,
  type ObjectMeta,
  type ClaimCheckOptions,
  type PutOptions,
  type GetOptions,
  DEFAULT_CLAIM_THRESHOLD,
  DEFAULT_BUCKET,
} from './claim-check.js';
export { tensorAtRef, claimCheckTensor, resolveTensor } from './tensor-claims.js';
export { localClient } from './local-client.js';
export { startService, hosted, exitOnSignals, READY_PREFIX, type ServiceHost, type ServiceHostOptions, type HostedService, type CommonConfig, type ServiceComposition } from './service-host.js';
export { consoleLogger, type Logger, type LogLevel } from './logger.js';
export {
  servicePermissions,
  renderNatsAuthorization,
  deployNatsAuthConf,
  generateBusLogins,
  passwordEnv,
  busInboxPrefix,
  BUS_USERS,
  SERVICE_SUBJECTS,
  DEFAULT_BUS_NAMES,
  type BusUser,
  type BusNames,
  type BusUserLogin,
  type NatsPermissions,
  type InboxOptions,
} from './nats/permissions.js';
export { Inbox, serviceInboxPrefix, connectionInboxPrefix, calleeInboxes, calleeToken } from './nats/inbox.js';
