/**
 * Every call to the gateway: the API key from sessionStorage as a Bearer token, and one error type
 * whose message is safe to show (the gateway's OpenAI-style `error.message`, or what went wrong on
 * the way). A 401 anywhere sends the user back to the key form with the reason.
 */
const KEY = 'tessera.apiKey';
const ANNOTATOR = 'tessera.annotator';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code = '',
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  setKey: (k: string): void => sessionStorage.setItem(KEY, k),
  clear: (): void => sessionStorage.removeItem(KEY),
  annotator: (): string => sessionStorage.getItem(ANNOTATOR) || 'playground',
  setAnnotator: (a: string): void => sessionStorage.setItem(ANNOTATOR, a),
};

let onUnauthorized: (message: string) => void = () => {};
export function setUnauthorizedHandler(fn: (message: string) => void): void {
  onUnauthorized = fn;
}

export async function errorFrom(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  let code = '';
  let param: string | null = null;
  try {
    const body = (await res.json()) as { error?: { message?: string; code?: string; param?: string | null } };
    if (body.error?.message) message = body.error.message;
    code = body.error?.code ?? '';
    param = body.error?.param ?? null;
  } catch {
    /* not JSON: keep the status line */
  }
  if (res.status === 413) message = `Too large: ${message}`;
  const retry = res.headers.get('retry-after');
  if (res.status === 429 && retry) message = `Rate limited (try again in ${retry} s): ${message}`;
  return new ApiError(message, res.status, code, param);
}

/** fetch with the key; throws ApiError for HTTP errors and for an unreachable gateway. */
export async function api(path: string, init: RequestInit = {}, key = session.key()): Promise<Response> {
  const headers = new Headers(init.headers);
  if (key) headers.set('authorization', `Bearer ${key}`);
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(`The gateway cannot be reached (${(err as Error).message}). Is the stack running?`, 0, 'unavailable');
  }
  if (!res.ok) {
    const e = await errorFrom(res);
    if (res.status === 401) onUnauthorized(e.message);
    throw e;
  }
  return res;
}

export async function apiJson<T>(path: string, init: RequestInit = {}): Promise<T> {
  return (await (await api(path, init)).json()) as T;
}

export function postJson<T>(path: string, body: unknown): Promise<T> {
  return apiJson<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export const describeError = (err: unknown): string => (err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err));
