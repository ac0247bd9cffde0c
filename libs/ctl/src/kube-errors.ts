import { ApiException } from '@kubernetes/client-node';
import { ErrorCode, TesseraError } from '@tessera/errors';

/** Kubernetes `Status` body fields we print (reason, message). */
interface StatusBody {
  reason?: string;
  message?: string;
}

function statusBody(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body.slice(0, 300) };
    }
  }
  return (body ?? {}) as StatusBody;
}

/**
 * Maps what @kubernetes/client-node throws to a TesseraError whose message says what was attempted,
 * against which server, and what to do: 401/403 (RBAC), 404, connection failures, timeouts.
 */
export function kubeError(err: unknown, what: string, server: string): TesseraError {
  if (err instanceof TesseraError) return err;
  if (err instanceof ApiException) {
    const body = statusBody(err.body);
    const detail = body.message ?? `HTTP ${err.code}`;
    switch (err.code) {
      case 401:
        return new TesseraError(ErrorCode.UNAUTHENTICATED, `${what}: the API server at ${server} rejected the credentials (401): ${detail}`, { field: 'kubeconfig' }, { cause: err });
      case 403:
        return new TesseraError(
          ErrorCode.PERMISSION_DENIED,
          `${what}: forbidden (403) by RBAC: ${detail}. Bind the chart's "<release>-tessera-operator" Role (rbac.operatorSubjects) to your user`,
          { field: 'rbac' },
          { cause: err },
        );
      case 404:
        return new TesseraError(ErrorCode.NOT_FOUND, `${what}: not found (404): ${detail}`, {}, { cause: err });
      case 409:
        return new TesseraError(ErrorCode.ABORTED, `${what}: conflict (409), retry: ${detail}`, {}, { cause: err });
      case 429:
        // Evictions: a PodDisruptionBudget allows no more disruption right now (retry later).
        return new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, `${what}: refused for now (429): ${detail}`, {}, { cause: err });
      case 422:
        return new TesseraError(ErrorCode.INVALID_ARGUMENT, `${what}: rejected by the API server (422): ${detail}`, {}, { cause: err });
      default:
        return new TesseraError(err.code >= 500 ? ErrorCode.UNAVAILABLE : ErrorCode.INTERNAL, `${what}: API server answered ${err.code}: ${detail}`, {}, { cause: err });
    }
  }
  const e = err as { code?: string; message?: string; name?: string };
  const network = ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH'];
  if (e && (network.includes(e.code ?? '') || e.name === 'FetchError')) {
    return new TesseraError(ErrorCode.UNAVAILABLE, `${what}: cannot reach the Kubernetes API server at ${server}: ${e.message ?? e.code}`, { field: 'kubeconfig' }, { cause: err });
  }
  return new TesseraError(ErrorCode.INTERNAL, `${what}: ${e?.message ?? String(err)}`, {}, { cause: err });
}

export function isNotFound(err: unknown): boolean {
  return (err instanceof TesseraError && err.code === ErrorCode.NOT_FOUND) || (err instanceof ApiException && err.code === 404);
}
