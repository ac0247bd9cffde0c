import type * as k8s from '@kubernetes/client-node';
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { Kube } from './kube.js';

/** One durable consumer's backlog as KEDA's nats-jetstream scaler counts it. */
export interface ConsumerBacklog {
  stream: string;
  consumer: string;
  /** Messages not yet delivered to any worker. */
  pending: number;
  /** Delivered, not yet acked (in flight or awaiting redelivery). */
  ackPending: number;
  /** KEDA's lag: pending + ackPending. */
  lag: number;
  redelivered: number;
  /** Pull requests waiting: > 0 means idle workers. */
  waiting: number;
}

interface JszConsumer {
  stream_name?: string;
  name?: string;
  num_pending?: number;
  num_ack_pending?: number;
  num_redelivered?: number;
  num_waiting?: number;
}
interface JszStream {
  name?: string;
  consumer_detail?: JszConsumer[];
}
interface Jsz {
  account_details?: Array<{ name?: string; id?: string; stream_detail?: JszStream[] }>;
}

/**
 * Reads `/jsz?acc=<account>&consumers=true` from the NATS monitoring endpoint (the same call KEDA's
 * scaler makes) and returns every consumer's backlog keyed `stream/consumer`. Accepts
 * `http://host:8222` or bare `host:8222`.
 */
export async function readBacklog(monitorUrl: string, account: string, timeoutMs: number): Promise<Map<string, ConsumerBacklog>> {
  const base = /^https?:\/\//.test(monitorUrl) ? monitorUrl : `http://${monitorUrl}`;
  let url: URL;
  try {
    url = new URL('/jsz', base);
  } catch {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `--nats-monitor "${monitorUrl}" is not a URL (expected http://host:8222)`, { field: 'nats-monitor' });
  }
  url.searchParams.set('acc', account);
  url.searchParams.set('consumers', 'true');
  url.searchParams.set('config', 'true');
  let body: Jsz;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as Jsz;
  } catch (err) {
    throw new TesseraError(ErrorCode.UNAVAILABLE, `cannot read JetStream backlog from ${url.origin}/jsz: ${(err as Error).message}`, { field: 'nats-monitor' }, { cause: err });
  }
  return backlogFromJsz(body, account);
}

/** Where the NATS monitoring port lives as a Service the API server can proxy to. */
export interface MonitoringService {
  namespace: string;
  /** `name:port` as the services/proxy path takes it. */
  nameAndPort: string;
}

/**
 * `host:port` of the monitoring endpoint as the chart writes it (KEDA's natsServerMonitoringEndpoint:
 * `nats:8222`, `nats-headless.nats.svc.cluster.local:8222`, `http://nats.nats:8222`) → the Service.
 * A bare name is in `namespace`; `name.ns[.svc…]` names its own.
 */
export function monitoringService(endpoint: string, namespace: string): MonitoringService {
  const hostPort = endpoint.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  const m = /^([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)(?:\.([a-z0-9](?:[-a-z0-9]*[a-z0-9])?))?(?:\.[^:]*)?(?::(\d+|[a-z][-a-z0-9]*))?$/.exec(hostPort);
  if (!m) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `NATS monitoring endpoint "${endpoint}" is not host:port of a Service (e.g. nats:8222)`, { field: 'nats-service' });
  return { namespace: m[2] ?? namespace, nameAndPort: `${m[1]}:${m[3] ?? '8222'}` };
}

/**
 * The same `/jsz` read through the Kubernetes API server's service proxy
 * (`/api/v1/namespaces/NS/services/NAME:PORT/proxy/jsz`): no port-forward, only the kubeconfig's
 * credentials and RBAC `get services/proxy` in the NATS namespace.
 */
export async function readBacklogThroughApi(kube: Kube, svc: MonitoringService, account: string): Promise<Map<string, ConsumerBacklog>> {
  // The generated client takes query parameters only from its own signature; a request middleware adds
  // /jsz's. Its middleware contract is the client's Observable stub: an object whose toPromise() resolves.
  const of = <T>(v: T) => ({ toPromise: () => Promise.resolve(v), pipe: <S>(f: (x: T) => S) => of(f(v)) });
  const query = {
    middleware: [
      {
        pre: (ctx: k8s.RequestContext) => {
          ctx.setQueryParam('acc', account);
          ctx.setQueryParam('consumers', 'true');
          ctx.setQueryParam('config', 'true');
          return of(ctx);
        },
        post: (ctx: k8s.ResponseContext) => of(ctx),
      },
    ],
    middlewareMergeStrategy: 'append',
  } as unknown as k8s.ConfigurationOptions;
  const raw: unknown = await kube.call(`read JetStream backlog from service ${svc.namespace}/${svc.nameAndPort} through the API server proxy`, () =>
    kube.core.connectGetNamespacedServiceProxyWithPath({ name: svc.nameAndPort, namespace: svc.namespace, path: 'jsz' }, query),
  );
  let body: Jsz;
  try {
    body = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Jsz;
  } catch {
    throw new TesseraError(ErrorCode.UNAVAILABLE, `service ${svc.namespace}/${svc.nameAndPort}/jsz did not answer JSON: is it the NATS monitoring port?`, { field: 'nats-service' });
  }
  return backlogFromJsz(body, account);
}

function backlogFromJsz(body: Jsz, account: string): Map<string, ConsumerBacklog> {
  const out = new Map<string, ConsumerBacklog>();
  for (const acc of body.account_details ?? []) {
    if (acc.name !== account && acc.id !== account) continue;
    for (const s of acc.stream_detail ?? []) {
      for (const c of s.consumer_detail ?? []) {
        const stream = c.stream_name ?? s.name ?? '';
        const pending = c.num_pending ?? 0;
        const ackPending = c.num_ack_pending ?? 0;
        out.set(`${stream}/${c.name}`, {
          stream,
          consumer: c.name ?? '',
          pending,
          ackPending,
          lag: pending + ackPending,
          redelivered: c.num_redelivered ?? 0,
          waiting: c.num_waiting ?? 0,
        });
      }
    }
  }
  return out;
}
