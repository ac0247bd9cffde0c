/**
 * A real PostgreSQL for one test suite: `initdb` into a temp directory and `pg_ctl start` on a free
 * loopback port (Debian's `postgresql` package; scripts/ensure-system.sh installs it). PostgreSQL
 * refuses to run as root, so as root the cluster is created and started as the `postgres` system
 * user (the package creates it) through `runuser`. Trust auth on 127.0.0.1 only; fsync off (a test
 * cluster never outlives its suite). `initdb` took 31 s of wall time on the loaded 2-core machine
 * (1.4 s of CPU), so it runs once per machine into a template cluster that each suite copies
 * (`cp -a`, well under a second); `pg_ctl start` then takes ~1.7 s.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './nats-server.js';

export interface PostgresHandle {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export function postgresBinDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error('PostgreSQL binaries not found: install the Debian package `postgresql` (bash scripts/ensure-system.sh) or set PG_BIN_DIR');
  return join(root, versions[0]!, 'bin');
}

export async function startPostgres(): Promise<PostgresHandle> {
  const bin = postgresBinDir();
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) } : undefined;
  const run = (cmd: string, args: string[]) => {
    const file = join(bin, cmd);
    // stdio ignored: pg_ctl's server inherits it, and a pipe would keep execFileSync waiting for EOF.
    const o = { stdio: 'ignore' as const, timeout: 120_000 };
    if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], o);
    else execFileSync(file, args, o);
  };
  const ownedTempDir = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    if (owner) chownSync(d, owner.uid, owner.gid);
    chmodSync(d, 0o700);
    return d;
  };
  const template = join(tmpdir(), `tessera-pg-template-${bin.replace(/[^A-Za-z0-9]/g, '_')}`);
  if (!existsSync(join(template, 'PG_VERSION'))) {
    const building = ownedTempDir('tessera-pg-initdb-');
    try {
      run('initdb', ['-D', join(building, 'data'), '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
      try {
        renameSync(join(building, 'data'), template); // atomic: a concurrent suite keeps its own or uses ours
      } catch {
        /* another suite won the race */
      }
    } finally {
      rmSync(building, { recursive: true, force: true });
    }
  }
  const dir = ownedTempDir('tessera-pg-');
  const data = join(dir, 'data');
  execFileSync('cp', ['-a', template, data]);
  try {
    run('pg_ctl', ['start', '-D', data, '-w', '-t', '60', '-l', join(dir, 'log'), '-o', `-p ${port} -h 127.0.0.1 -k ${dir} -F -c max_connections=50`]);
  } catch (err) {
    const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8').slice(-2000) : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start PostgreSQL from ${bin}: ${(err as Error).message}\n${log}`);
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      try {
        run('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
