import { writeFileSync } from 'node:fs';
import { sha256Hex } from '@tessera/runtime';

/** A key as a local stack's caller holds it (plaintext); the file keeps only its sha256. */
export interface PlainApiKey {
  id: string;
  tenant: string;
  key: string;
  revoked?: boolean;
  admin?: boolean;
}

/**
 * Writes the gateway's API keys file (`TESSERA_GATEWAY_API_KEYS_FILE`, the gateway's `KeysFile`:
 * `{ tenants?, keys: [{ id, tenant, sha256, revoked?, admin? }] }`) for plaintext keys, hashed the way
 * the gateway hashes a bearer token (sha256 hex of the UTF-8 key). The one writer of that file for the
 * demos and benches. Returns `path`.
 */
export function writeApiKeysFile(path: string, keys: readonly PlainApiKey[], tenants?: Record<string, Record<string, number>>): string {
  const file = { ...(tenants && { tenants }), keys: keys.map(({ key, ...k }) => ({ ...k, sha256: sha256Hex(key) })) };
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
  return path;
}
