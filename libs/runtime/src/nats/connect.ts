/**
 * The one way a service connects to NATS: servers from NATS_URL, reconnect forever, and the
 * credentials and TLS settings of the shared configuration (user/password, token, NKEY seed file,
 * .creds JWT file; a CA for server verification, a client certificate for mutual TLS). The server
 * decides what the user may publish and subscribe (per-service permissions, see deploy/nats).
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { serviceInboxPrefix } from './inbox.js';

export interface NatsAuthConfig {
  natsUrl: string;
  serviceName: string;
  natsUser?: string;
  natsPassword?: string;
  natsToken?: string;
  natsNkeySeedFile?: string;
  natsCredsFile?: string;
  natsTlsCaFile?: string;
  natsTlsCertFile?: string;
  natsTlsKeyFile?: string;
  /** Inbox prefix; default `_INBOX.<NATS user>` (or `_INBOX.<service name>` for a login without a user name). */
  natsInboxPrefix?: string;
}

/**
 * The prefix of every inbox this process creates: `_INBOX.<user>`, the only inboxes its NATS user may
 * subscribe (permissions.ts). The bus user is the NATS user name, or the service name when the login
 * has none (token, NKEY, .creds): set NATS_INBOX_PREFIX when those differ from the server's grants.
 */
export function defaultInboxPrefix(c: Pick<NatsAuthConfig, 'natsUser' | 'serviceName' | 'natsInboxPrefix'>): string {
  return c.natsInboxPrefix ?? serviceInboxPrefix(c.natsUser ?? c.serviceName);
}

function readSecret(path: string, field: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${field}: cannot read ${path} (${(err as Error).message})`, { field }, { cause: err });
  }
}

export function natsConnectionOptions(c: NatsAuthConfig, extra: ConnectionOptions = {}): ConnectionOptions {
  const methods = [c.natsUser !== undefined, c.natsToken !== undefined, c.natsNkeySeedFile !== undefined, c.natsCredsFile !== undefined].filter(Boolean).length;
  if (methods > 1) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'set one NATS authentication method: NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_NKEY_SEED_FILE or NATS_CREDS_FILE', { field: 'NATS_USER' });
  if (c.natsUser !== undefined && c.natsPassword === undefined) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'NATS_USER is set without NATS_PASSWORD', { field: 'NATS_PASSWORD' });
  if ((c.natsTlsCertFile === undefined) !== (c.natsTlsKeyFile === undefined)) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'mutual TLS needs both NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE', { field: 'NATS_TLS_CERT_FILE' });
  const o: ConnectionOptions = {
    servers: c.natsUrl.split(',').map((s) => s.trim()),
    name: c.serviceName,
    maxReconnectAttempts: -1,
    inboxPrefix: defaultInboxPrefix(c),
    ...extra,
  };
  if (c.natsUser !== undefined) Object.assign(o, { user: c.natsUser, pass: c.natsPassword });
  if (c.natsToken !== undefined) o.token = c.natsToken;
  if (c.natsNkeySeedFile !== undefined) o.authenticator = nkeyAuthenticator(new TextEncoder().encode(Buffer.from(readSecret(c.natsNkeySeedFile, 'NATS_NKEY_SEED_FILE')).toString('utf8').trim()));
  if (c.natsCredsFile !== undefined) o.authenticator = credsAuthenticator(readSecret(c.natsCredsFile, 'NATS_CREDS_FILE'));
  if (c.natsTlsCaFile !== undefined || c.natsTlsCertFile !== undefined) {
    o.tls = {
      ...(c.natsTlsCaFile !== undefined && { caFile: c.natsTlsCaFile }),
      ...(c.natsTlsCertFile !== undefined && { certFile: c.natsTlsCertFile, keyFile: c.natsTlsKeyFile }),
    };
  }
  return o;
}

/** Connects with the service's configuration; a refused login fails here, naming the server's reason. */
export async function connectNats(c: NatsAuthConfig, extra: ConnectionOptions = {}): Promise<NatsConnection> {
  try {
    return await connect(natsConnectionOptions(c, extra));
  } catch (err) {
    if (err instanceof TesseraError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'AUTHORIZATION_VIOLATION' || code === 'BAD_AUTHENTICATION' || /authorization/i.test(String(err))) {
      throw new TesseraError(ErrorCode.UNAUTHENTICATED, `NATS refused ${c.serviceName}'s credentials at ${c.natsUrl}: ${(err as Error).message}`, { field: 'NATS_USER' }, { cause: err });
    }
    throw new TesseraError(ErrorCode.UNAVAILABLE, `cannot connect to NATS at ${c.natsUrl}: ${(err as Error).message}`, { field: 'NATS_URL' }, { cause: err });
  }
}

/** The authentication keys of the shared configuration read from an environment (the CLI and tools use it; services use their config). */
export function natsAuthFromEnv(env: NodeJS.ProcessEnv = process.env): Omit<NatsAuthConfig, 'natsUrl' | 'serviceName'> {
  const keys = {
    natsUser: 'NATS_USER',
    natsPassword: 'NATS_PASSWORD',
    natsToken: 'NATS_TOKEN',
    natsNkeySeedFile: 'NATS_NKEY_SEED_FILE',
    natsCredsFile: 'NATS_CREDS_FILE',
    natsTlsCaFile: 'NATS_TLS_CA_FILE',
    natsTlsCertFile: 'NATS_TLS_CERT_FILE',
    natsTlsKeyFile: 'NATS_TLS_KEY_FILE',
    natsInboxPrefix: 'NATS_INBOX_PREFIX',
  } as const;
  const out: Record<string, string> = {};
  for (const [k, e] of Object.entries(keys)) if (env[e]) out[k] = env[e]!;
  return out;
}
