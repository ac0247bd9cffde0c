import * as k8s from '@kubernetes/client-node';
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { GlobalOptions } from './args.js';
import { kubeError } from './kube-errors.js';

/** The API clients of one kubeconfig context, each call bounded by --request-timeout. */
export class Kube {
  readonly apps: k8s.AppsV1Api;
  readonly core: k8s.CoreV1Api;
  readonly autoscaling: k8s.AutoscalingV2Api;
  readonly custom: k8s.CustomObjectsApi;
  readonly namespace: string;
  readonly server: string;

  constructor(
    readonly config: k8s.KubeConfig,
    namespace: string,
    private readonly timeoutMs: number,
  ) {
    this.apps = config.makeApiClient(k8s.AppsV1Api);
    this.core = config.makeApiClient(k8s.CoreV1Api);
    this.autoscaling = config.makeApiClient(k8s.AutoscalingV2Api);
    this.custom = config.makeApiClient(k8s.CustomObjectsApi);
    this.namespace = namespace;
    this.server = config.getCurrentCluster()?.server ?? '(no server)';
  }

  /** Runs one API call; any failure becomes a TesseraError naming `what` and the server. */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TesseraError(ErrorCode.DEADLINE_EXCEEDED, `${what}: no answer from the API server at ${this.server} within ${this.timeoutMs} ms`, { field: 'request-timeout', limit: `${this.timeoutMs} ms` })),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (err) {
      throw kubeError(err, what, this.server);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A JSON merge patch (RFC 7386): what `kubectl patch --type merge` sends. */
export const mergePatch = (): k8s.ConfigurationOptions => k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/**
 * Loads the kubeconfig like kubectl: --kubeconfig, else $KUBECONFIG / ~/.kube/config / in-cluster;
 * --context switches context; -n, else the context's namespace, else "default".
 */
export function connect(opts: GlobalOptions): Kube {
  const kc = new k8s.KubeConfig();
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `cannot load kubeconfig ${opts.kubeconfig ?? '(default)'}: ${(err as Error).message}`, { field: 'kubeconfig' }, { cause: err });
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `context "${opts.context}" is not in the kubeconfig (contexts: ${known.join(', ') || 'none'})`, { field: 'context' });
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `kubeconfig has no cluster for context "${kc.getCurrentContext()}"`, { field: 'kubeconfig' });
  }
  const namespace = opts.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return new Kube(kc, namespace, opts.requestTimeoutMs);
}
