import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A TypeScript entry running as its own process (`node --import tsx file.ts`). */
export interface SpawnedProcess {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Every stdout and stderr line so far (tests print them on failure). */
  readonly lines: readonly string[];
  /** Resolves with the first line (past or future) matching `pattern`; rejects on exit or timeout. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGKILL: the process gets no chance to clean up (crash simulation). */
  kill9(): Promise<void>;
  /** SIGTERM and wait for exit (graceful shutdown). Resolves with the exit code. */
  terminate(timeoutMs?: number): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  args?: string[];
  cwd?: string;
  /** Wait for this line before resolving (default: none). */
  readyPattern?: RegExp;
  readyTimeoutMs?: number;
}

export async function spawnTs(entry: string, opts: SpawnOptions = {}): Promise<SpawnedProcess> {
  return spawnCommand(process.execPath, ['--import', 'tsx', entry], opts, entry);
}

/** Any command as its own process (e.g. deploy/start.sh, a compiled service); same handle as spawnTs. */
export async function spawnCommand(command: string, args: string[], opts: SpawnOptions = {}, entry = command): Promise<SpawnedProcess> {
  const child = spawn(command, [...args, ...(opts.args ?? [])], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const onLine = (l: string) => {
    lines.push(l);
    if (lines.length > 5_000) lines.splice(0, 1_000);
    for (const w of [...waiters]) {
      if (w.re.test(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const handle: SpawnedProcess = {
    process: child,
    pid: child.pid ?? -1,
    lines,
    exited,
    waitForLine(re, timeoutMs = 20_000) {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const w = { re, resolve: (l: string) => (clearTimeout(timer), resolve(l)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`${entry}: no line matching ${re} within ${timeoutMs} ms; output:\n${lines.slice(-40).join('\n')}`));
        }, timeoutMs);
        waiters.push(w);
        void exited.then((code) => {
          if (waiters.includes(w)) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(w), 1);
            reject(new Error(`${entry} exited with ${code} before a line matching ${re}; output:\n${lines.slice(-40).join('\n')}`));
          }
        });
      });
    },
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async terminate(timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  if (opts.readyPattern) {
    try {
      await handle.waitForLine(opts.readyPattern, opts.readyTimeoutMs ?? 30_000);
    } catch (err) {
      await handle.kill9();
      throw err;
    }
  }
  return handle;
}

/** Polls `check` every `intervalMs` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 25, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
