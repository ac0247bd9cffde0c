import { readFileSync } from 'node:fs';
import { ErrorCode, sha256Hex, TesseraError } from '@tessera/runtime';

/** Per-tenant limits; any key left out takes the gateway-wide default from configuration. */
export interface TenantQuota {
  requestsPerMinute: number;
  tokensPerMinute: number;
  concurrentStreams: number;
  maxImagePixels: number;
  maxImagesPerRequest: number;
  /** Image preprocessing budget in megapixel-slices per minute (image-cost.ts); unset = the gateway default. */
  imageCostPerMinute?: number;
}

export interface Tenant {
  id: string;
  quota: TenantQuota;
}

interface KeyRecord {
  id: string;
  tenant: string;
  revoked: boolean;
  admin: boolean;
}

/**
 * The keys file (a mounted Kubernetes secret or a local file) holds only SHA-256 hashes of API keys:
 *
 * ```json
 * { "tenants": { "acme": { "requestsPerMinute": 120 } },
 *   "keys": [ { "id": "acme-prod", "tenant": "acme", "sha256": "<hex>", "revoked": false } ] }
 * ```
 * A plain SHA-256 is enough because keys are 256-bit random tokens, not guessable passwords: a slow
 * hash (bcrypt, ~50 ms) would buy nothing against brute force and cost 50 ms on every request.
 */
export interface KeysFile {
  tenants?: Record<string, Partial<TenantQuota>>;
  /** `admin: true` keys may also erase any tenant's data (`DELETE /v1/admin/tenants/{id}`). */
  keys: Array<{ id: string; tenant: string; sha256: string; revoked?: boolean; admin?: boolean }>;
}

export const hashApiKey = (key: string): string => sha256Hex(key);

export class ApiKeyStore {
  private readonly byHash = new Map<string, KeyRecord>();
  private readonly tenants = new Map<string, Tenant>();

  constructor(file: KeysFile, defaults: TenantQuota) {
    if (!file || !Array.isArray(file.keys)) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'keys file must have a "keys" array', { field: 'keys' });
    const tenantIds = new Set<string>([...Object.keys(file.tenants ?? {}), ...file.keys.map((k) => k.tenant)]);
    for (const id of tenantIds) {
      this.tenants.set(id, { id, quota: Object.freeze({ ...defaults, ...(file.tenants?.[id] ?? {}) }) });
    }
    file.keys.forEach((k, i) => {
      if (!/^[0-9a-f]{64}$/.test(k.sha256 ?? '')) {
        throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `keys[${i}].sha256 must be 64 lowercase hex characters`, { field: `keys[${i}].sha256` });
      }
      if (!k.tenant) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `keys[${i}].tenant is required`, { field: `keys[${i}].tenant` });
      this.byHash.set(k.sha256, { id: k.id, tenant: k.tenant, revoked: k.revoked === true, admin: k.admin === true });
    });
  }

  static fromFile(path: string, defaults: TenantQuota): ApiKeyStore {
    let parsed: KeysFile;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8')) as KeysFile;
    } catch (err) {
      throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `cannot read API keys file ${path}`, { field: 'TESSERA_GATEWAY_API_KEYS_FILE' }, { cause: err });
    }
    return new ApiKeyStore(parsed, defaults);
  }

  /** Resolves a bearer token to its tenant; UNAUTHENTICATED for missing, unknown or revoked keys. */
  authenticate(authorization: string | undefined): Tenant {
    const record = this.record(authorization);
    return this.tenant(record.tenant) ?? this.unconfigured(record.tenant);
  }

  /** Like `authenticate`, and PERMISSION_DENIED unless the key is an admin key. */
  authenticateAdmin(authorization: string | undefined): Tenant {
    const record = this.record(authorization);
    if (!record.admin) throw new TesseraError(ErrorCode.PERMISSION_DENIED, `API key "${record.id}" is not an admin key`, { field: 'authorization' });
    return this.tenant(record.tenant) ?? this.unconfigured(record.tenant);
  }

  private unconfigured(tenant: string): never {
    throw new TesseraError(ErrorCode.PERMISSION_DENIED, `tenant "${tenant}" is not configured`, { field: 'authorization' });
  }

  private record(authorization: string | undefined): KeyRecord {
    if (!authorization) {
      throw new TesseraError(ErrorCode.UNAUTHENTICATED, 'missing API key: send "Authorization: Bearer <key>"', { field: 'authorization' });
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) throw new TesseraError(ErrorCode.UNAUTHENTICATED, 'malformed Authorization header: expected "Bearer <key>"', { field: 'authorization' });
    const record = this.byHash.get(hashApiKey(m[1]!));
    if (!record) throw new TesseraError(ErrorCode.UNAUTHENTICATED, 'invalid API key', { field: 'authorization' });
    if (record.revoked) throw new TesseraError(ErrorCode.UNAUTHENTICATED, `API key "${record.id}" has been revoked`, { field: 'authorization' });
    return record;
  }

  tenant(id: string): Tenant | undefined {
    return this.tenants.get(id);
  }

  tenantIds(): string[] {
    return [...this.tenants.keys()];
  }
}
