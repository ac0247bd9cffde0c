/** Validation and on-disk encoding of tenant and collection names. */
import { invalidArgument } from '@tessera/runtime';

/** Collection names (proto): 1..64 of [a-z0-9_-], starting with a letter or digit. */
export const COLLECTION_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const MAX_TENANT_BYTES = 128;

export function checkCollectionName(name: string, field = 'collection'): string {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
    throw invalidArgument(field, `${field} ${JSON.stringify(name)} must be 1..64 characters of [a-z0-9_-] starting with a letter or digit`, '1..64 of [a-z0-9_-]');
  }
  return name;
}

/**
 * A tenant id becomes a directory name as lowercase hex of its UTF-8 bytes: any header value is
 * safe on disk ("../x" cannot escape), and two tenants can never map to one directory.
 */
export function tenantDirName(tenant: string): string {
  if (typeof tenant !== 'string' || tenant === '') throw invalidArgument('tenant', 'tenant is required (tessera-tenant header)');
  const bytes = Buffer.from(tenant, 'utf8');
  if (bytes.length > MAX_TENANT_BYTES) throw invalidArgument('tenant', `tenant is longer than ${MAX_TENANT_BYTES} bytes`, `<= ${MAX_TENANT_BYTES} bytes`);
  return `t-${bytes.toString('hex')}`;
}
