import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import type { K8sObject } from '../helm-render.js';
import { validateManifest } from '../manifest-validation.js';

/**
 * Test support: an HTTP server that speaks the slice of the Kubernetes API `tessera ctl` uses —
 * Deployments (+ scale), Pods (+ log), Nodes, HPAs (autoscaling/v2) and KEDA ScaledObjects — over an
 * in-memory store. No kube-apiserver can run on this machine (no binary in apt or npm, no Docker), so
 * this stands in for one; every object it stores or returns, lists and the Scale subresource included,
 * is validated against the Kubernetes/KEDA schemas (kubernetes-models), and PATCH accepts only JSON
 * merge patches, as the real server would for `application/merge-patch+json`.
 */

interface ResourceKind {
  apiVersion: string;
  kind: string;
  namespaced: boolean;
}

const RESOURCES: Record<string, ResourceKind> = {
  'v1/pods': { apiVersion: 'v1', kind: 'Pod', namespaced: true },
  'v1/nodes': { apiVersion: 'v1', kind: 'Node', namespaced: false },
  'apps/v1/deployments': { apiVersion: 'apps/v1', kind: 'Deployment', namespaced: true },
  'apps/v1/replicasets': { apiVersion: 'apps/v1', kind: 'ReplicaSet', namespaced: true },
  'v1/events': { apiVersion: 'v1', kind: 'Event', namespaced: true },
  'autoscaling/v2/horizontalpodautoscalers': { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', namespaced: true },
  'keda.sh/v1alpha1/scaledobjects': { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', namespaced: true },
};

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType?: string;
  authorization?: string;
  body?: unknown;
}

export interface ForbidRule {
  method: string;
  /** Resource plural (deployments, nodes…), optionally `/subresource` (deployments/scale). */
  resource: string;
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function matchesSelector(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return v === undefined ? labels?.[k!] !== undefined : labels?.[k!] === v;
  });
}

export class FakeKubeApi {
  private server?: Server;
  private readonly store = new Map<string, K8sObject>();
  private resourceVersion = 100;
  readonly requests: RecordedRequest[] = [];
  readonly logs = new Map<string, string>();
  /** Answer 403 for these (method, resource) pairs, as RBAC would. */
  forbidden: ForbidRule[] = [];
  /** false: the keda.sh API is not served (404), as on a cluster without KEDA's CRDs. */
  kedaInstalled = true;
  /** Evictions refused with 429 (a PodDisruptionBudget at its limit) this many more times, by pod name. */
  readonly evictionRefusals = new Map<string, number>();
  /** Service proxy targets: `namespace/name:port` → base URL the API server forwards `…/proxy/<path>` to. */
  readonly serviceProxies = new Map<string, string>();
  /** Paths (substring) the server never answers, to exercise --request-timeout. */
  hang: string[] = [];
  url = '';

  private key(o: { apiVersion: string; kind: string; metadata: { namespace?: string; name: string } }): string {
    return `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;
  }

  /** Adds or replaces objects; each must be schema-valid. */
  put(...objects: K8sObject[]): void {
    for (const o of objects) {
      validateManifest(o);
      const stored = structuredClone(o);
      stored.metadata = { ...stored.metadata, resourceVersion: String(++this.resourceVersion), uid: stored.metadata.uid ?? `uid-${this.resourceVersion}` };
      this.store.set(this.key(stored), stored);
    }
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): any {
    return this.store.get(`${apiVersion}|${kind}|${namespace ?? ''}|${name}`);
  }

  list(apiVersion: string, kind: string, namespace?: string): any[] {
    return [...this.store.values()].filter((o) => o.apiVersion === apiVersion && o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace));
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          this.handle(req, res, Buffer.concat(chunks).toString('utf8'));
        } catch (err) {
          this.status(res, 500, 'InternalError', (err as Error).message);
        }
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /**
   * A kubeconfig with context `fake` (this server, namespace `namespace`) and context `down` (a closed
   * port). http:// needs insecure-skip-tls-verify with @kubernetes/client-node 1.x.
   */
  writeKubeconfig(path: string, namespace: string, downUrl: string): void {
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `  - name: fake\n    cluster:\n      server: ${this.url}\n      insecure-skip-tls-verify: true`,
        `  - name: down\n    cluster:\n      server: ${downUrl}\n      insecure-skip-tls-verify: true`,
        'users:',
        '  - name: operator\n    user:\n      token: test-token',
        'contexts:',
        `  - name: fake\n    context:\n      cluster: fake\n      user: operator\n      namespace: ${namespace}`,
        `  - name: down\n    context:\n      cluster: down\n      user: operator\n      namespace: ${namespace}`,
        'current-context: fake',
        '',
      ].join('\n'),
    );
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.send(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  }

  /** services/proxy as the API server does it: RBAC on `services/proxy`, 503 without endpoints, the upstream's answer verbatim. */
  private proxyToService(res: ServerResponse, method: string, namespace: string, nameAndPort: string, pathAndQuery: string): void {
    if (this.forbidden.some((f) => f.method === method && f.resource === 'services/proxy')) {
      return this.status(res, 403, 'Forbidden', `services "${nameAndPort}" is forbidden: User "system:serviceaccount:ops:operator" cannot get resource "services/proxy" in API group "" in the namespace "${namespace}"`);
    }
    const target = this.serviceProxies.get(`${namespace}/${nameAndPort}`);
    if (!target) return this.status(res, 503, 'ServiceUnavailable', `no endpoints available for service "${nameAndPort}"`);
    fetch(`${target}${pathAndQuery}`, { method })
      .then(async (up) => {
        res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream' });
        res.end(Buffer.from(await up.arrayBuffer()));
      })
      .catch((err: Error) => this.status(res, 503, 'ServiceUnavailable', `error trying to reach service: ${err.message}`));
  }

  private handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const contentType = req.headers['content-type'];
    let body: unknown;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return this.status(res, 400, 'BadRequest', 'request body is not JSON');
      }
    }
    this.requests.push({ method, path: url.pathname, query: url.searchParams, contentType, authorization: req.headers.authorization, body });
    if (this.hang.some((h) => url.pathname.includes(h))) return; // never answers
    if (req.headers.authorization !== 'Bearer test-token') return this.status(res, 401, 'Unauthorized', 'Unauthorized');

    const proxy = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/]+)\/proxy(\/.*)?$/.exec(url.pathname);
    if (proxy) return this.proxyToService(res, method, proxy[1]!, decodeURIComponent(proxy[2]!), (proxy[3] ?? '/') + url.search);

    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return this.status(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    const groupVersion = m[1] ?? `${m[2]}/${m[3]}`;
    const [, , , , namespace, plural, name, sub] = m;
    const kind = RESOURCES[`${groupVersion}/${plural}`];
    if (!kind || (groupVersion.startsWith('keda.sh') && !this.kedaInstalled)) {
      return this.status(res, 404, 'NotFound', `the server could not find the requested resource (${method} ${plural}.${groupVersion})`);
    }
    const resource = sub ? `${plural}/${sub}` : plural!;
    if (this.forbidden.some((f) => f.method === method && f.resource === resource)) {
      const group = m[2] ?? '';
      const verb = { GET: name ? 'get' : 'list', PATCH: 'patch', PUT: 'update', POST: 'create', DELETE: 'delete' }[method] ?? method.toLowerCase();
      return this.status(
        res,
        403,
        'Forbidden',
        `${plural}${group ? `.${group}` : ''}${name ? ` "${name}"` : ''} is forbidden: User "system:serviceaccount:ops:operator" cannot ${verb} resource "${resource}" in API group "${group}"${namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope'}`,
      );
    }

    if (!name) {
      if (method !== 'GET') return this.status(res, 405, 'MethodNotAllowed', `${method} not supported on collections`);
      const node = /^spec\.nodeName=(.+)$/.exec(url.searchParams.get('fieldSelector') ?? '')?.[1];
      const items = this.list(kind.apiVersion, kind.kind, kind.namespaced ? namespace : undefined)
        .filter((o) => matchesSelector(o.metadata.labels, url.searchParams.get('labelSelector')))
        .filter((o) => node === undefined || (o as any).spec?.nodeName === node);
      const list = { apiVersion: kind.apiVersion, kind: `${kind.kind}List`, metadata: { resourceVersion: String(this.resourceVersion) }, items };
      validateManifest(list as never);
      return this.send(res, 200, list);
    }

    const obj = this.get(kind.apiVersion, kind.kind, kind.namespaced ? namespace : undefined, name);
    if (!obj) return this.status(res, 404, 'NotFound', `${plural}.${m[2] ?? ''} "${name}" not found`);

    if (sub === 'log' && kind.kind === 'Pod') {
      if (method !== 'GET') return this.status(res, 405, 'MethodNotAllowed', 'log is read-only');
      let lines = (this.logs.get(name) ?? '').split('\n').filter(Boolean);
      const tail = url.searchParams.get('tailLines');
      if (tail !== null) lines = lines.slice(Math.max(0, lines.length - Number(tail)));
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (url.searchParams.get('follow') === 'true') {
        // Stream line by line, then end as the real server does when the container exits.
        let i = 0;
        const next = () => {
          if (i >= lines.length) {
            res.end();
            return;
          }
          res.write(`${lines[i++]}\n`);
          setTimeout(next, 5);
        };
        next();
        return;
      }
      res.end(lines.map((l) => `${l}\n`).join(''));
      return;
    }

    if (sub === 'eviction' && kind.kind === 'Pod') {
      if (method !== 'POST') return this.status(res, 405, 'MethodNotAllowed', 'eviction is create-only');
      try {
        validateManifest(body as K8sObject);
      } catch (err) {
        return this.status(res, 400, 'BadRequest', (err as Error).message);
      }
      const refusals = this.evictionRefusals.get(name) ?? 0;
      if (refusals > 0) {
        this.evictionRefusals.set(name, refusals - 1);
        return this.status(res, 429, 'TooManyRequests', `Cannot evict pod as it would violate the pod's disruption budget.`);
      }
      this.store.delete(this.key(obj));
      return this.send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
    }

    if (sub === 'scale' && kind.kind === 'Deployment') {
      if (method === 'PATCH') {
        if (contentType !== 'application/merge-patch+json') return this.status(res, 415, 'UnsupportedMediaType', `unsupported patch type ${contentType}`);
        const replicas = (body as { spec?: { replicas?: unknown } })?.spec?.replicas;
        if (!Number.isInteger(replicas) || (replicas as number) < 0) return this.status(res, 422, 'Invalid', `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`);
        this.put(mergePatch(obj, { spec: { replicas } }) as K8sObject);
      } else if (method !== 'GET') return this.status(res, 405, 'MethodNotAllowed', `${method} not supported on scale`);
      const d = this.get(kind.apiVersion, kind.kind, namespace, name);
      const scale = {
        apiVersion: 'autoscaling/v1',
        kind: 'Scale',
        metadata: { name, namespace, resourceVersion: d.metadata.resourceVersion },
        spec: { replicas: d.spec.replicas ?? 1 },
        status: { replicas: d.status?.replicas ?? 0, selector: Object.entries(d.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',') },
      };
      validateManifest(scale);
      return this.send(res, 200, scale);
    }
    if (sub) return this.status(res, 404, 'NotFound', `subresource ${sub} not served`);

    if (method === 'GET') return this.send(res, 200, obj);
    if (method === 'PATCH') {
      if (contentType !== 'application/merge-patch+json') return this.status(res, 415, 'UnsupportedMediaType', `unsupported patch type ${contentType}`);
      const patched = mergePatch(obj, body) as K8sObject;
      try {
        validateManifest(patched);
      } catch (err) {
        return this.status(res, 422, 'Invalid', (err as Error).message);
      }
      this.put(patched);
      return this.send(res, 200, this.get(kind.apiVersion, kind.kind, namespace, name));
    }
    return this.status(res, 405, 'MethodNotAllowed', `${method} not supported`);
  }
}

/**
 * Turns `helm template` output into the cluster state a controller would produce: Deployments with
 * status (and spec.replicas where an autoscaler owns it), `replicas` running pods per Deployment
 * built from its pod template, and the HPA KEDA creates beside each ScaledObject.
 */
export function clusterFromRender(objs: K8sObject[], namespace: string, replicasFor: (name: string) => number): K8sObject[] {
  const out: K8sObject[] = [];
  for (const o of objs) {
    if (o.kind === 'Deployment') {
      const d: any = structuredClone(o);
      d.metadata.namespace = namespace;
      d.spec.replicas = d.spec.replicas ?? replicasFor(d.metadata.name);
      const n = d.spec.replicas;
      d.status = { observedGeneration: 1, replicas: n, readyReplicas: n, updatedReplicas: n, availableReplicas: n };
      out.push(d);
      for (let i = 0; i < n; i++) {
        const podName = `${d.metadata.name}-7d9f8c6b5-${'abcdefgh'[i]}x${i}`;
        out.push({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: podName, namespace, labels: { ...d.spec.template.metadata.labels }, annotations: { ...(d.spec.template.metadata.annotations ?? {}) } },
          spec: structuredClone(d.spec.template.spec),
          status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], podIP: `10.0.0.${10 + i}` },
        } as K8sObject);
      }
    } else if (o.kind === 'ScaledObject' || o.kind === 'HorizontalPodAutoscaler') {
      out.push({ ...structuredClone(o), metadata: { ...o.metadata, namespace } });
      if (o.kind === 'ScaledObject') {
        const so: any = o;
        out.push({
          apiVersion: 'autoscaling/v2',
          kind: 'HorizontalPodAutoscaler',
          metadata: { name: `keda-hpa-${so.metadata.name}`, namespace, labels: { 'scaledobject.keda.sh/name': so.metadata.name } },
          spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: so.spec.scaleTargetRef.name }, minReplicas: 1, maxReplicas: so.spec.maxReplicaCount, metrics: [{ type: 'External', external: { metric: { name: 's0-nats-jetstream' }, target: { type: 'AverageValue', averageValue: so.spec.triggers[0].metadata.lagThreshold } } }] },
        } as K8sObject);
      }
    }
  }
  return out;
}

/** Two GPU nodes (one cordoned) and one CPU node, as the NVIDIA GPU operator labels them. */
export function gpuPoolNodes(): K8sObject[] {
  const node = (name: string, gpus: number, unschedulable: boolean): K8sObject =>
    ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: gpus > 0 ? { 'nvidia.com/gpu.present': 'true', 'kubernetes.io/os': 'linux' } : { 'kubernetes.io/os': 'linux' } },
      spec: { ...(unschedulable && { unschedulable: true }), ...(gpus > 0 && { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] }) },
      status: {
        capacity: { cpu: '32', memory: '256Gi', ...(gpus > 0 && { 'nvidia.com/gpu': String(gpus) }) },
        allocatable: { cpu: '31500m', memory: '250Gi', ...(gpus > 0 && { 'nvidia.com/gpu': String(gpus) }) },
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    }) as K8sObject;
  return [node('gpu-a100-0', 4, false), node('gpu-a100-1', 2, true), node('cpu-0', 0, false)];
}
