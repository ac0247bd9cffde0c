#!/usr/bin/env node
/**
 * `tessera` — one command for people: model tools, slicing previews, document ingestion, operations.
 * Each top-level command lives in its own module under `commands/` and exports `run(argv)`.
 * Run with `npm run tessera -- <command> …` or `node --import tsx libs/cli/src/main.ts <command> …`.
 */
import { readFileSync } from 'node:fs';
import { TesseraError } from '@tessera/errors';

type CommandModule = { run(argv: string[]): Promise<number>; summary: string; USAGE?: string };

/** Exit statuses: 0 ok, 1 failed (a file, the cluster, the bus), 2 bad usage (flags or values). */
const EXIT_USAGE = 2;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `tessera ${pkg.version} (node ${process.version})`;
}

/** node:util parseArgs errors (unknown option, missing value, unexpected positional). */
const isParseArgsError = (err: unknown): err is Error & { code: string } => err instanceof Error && typeof (err as { code?: unknown }).code === 'string' && (err as unknown as { code: string }).code.startsWith('ERR_PARSE_ARGS');

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  model: () => import('./commands/model.js'),
  'slice-plan': () => import('./commands/slice-plan.js'),
  slice: () => import('./commands/slice.js'),
  docs: () => import('./commands/docs.js'),
  ctl: () => import('./commands/ctl.js'),
  feedback: () => import('./commands/feedback.js'),
  edge: () => import('./commands/edge.js'),
};

async function usage(): Promise<string> {
  const lines = ['usage: tessera <command> [args]', '', 'commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${(await load()).summary}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await usage());
    return name ? 0 : EXIT_USAGE;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(version());
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`tessera: unknown command "${name}"\n\n${await usage()}`);
    return EXIT_USAGE;
  }
  const mod = await load();
  const commandUsage = mod.USAGE ?? `usage: tessera ${name} …  (${mod.summary})`;
  // ctl parses its own flags (--help per subcommand, exit 2 on bad usage); the rest get --help here.
  if (name !== 'ctl' && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(commandUsage);
    return 0;
  }
  try {
    return await mod.run(rest);
  } catch (err) {
    if (isParseArgsError(err)) {
      console.error(`tessera ${name}: ${err.message}\n\n${commandUsage}`);
      return EXIT_USAGE;
    }
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      const path = (err as { path?: string }).path ?? '';
      console.error(`tessera ${name}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : 'is a directory'}: ${path}`);
      return 1;
    }
    const e = TesseraError.from(err);
    const field = e.details.field ? ` (field: ${e.details.field})` : '';
    if (e.code === 'INVALID_ARGUMENT') {
      console.error(`tessera ${name}: ${e.message}${field}\nrun "tessera ${name} --help" for usage`);
      return EXIT_USAGE;
    }
    const detail = e.code === 'INTERNAL' && err instanceof Error ? `: ${err.message}` : '';
    console.error(`tessera ${name}: ${e.message}${detail}${field}`);
    return 1;
  }
}

const isEntry = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/libs\/cli\//, '/libs/cli/'));
if (isEntry) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
