#!/usr/bin/env node
/**
 * `tessera` — one command for people: model tools, slicing previews, document ingestion, operations.
 * Each top-level command lives in its own module under `commands/` and exports `run(argv)`.
 * Run with `npm run tessera -- <command> …` or `node --import tsx libs/cli/src/main.ts <command> …`.
 */
import { TesseraError } from '@tessera/runtime';

type CommandModule = { run(argv: string[]): Promise<number>; summary: string };

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  model: () => import('./commands/model.js'),
  'slice-plan': () => import('./commands/slice-plan.js'),
  slice: () => import('./commands/slice.js'),
  docs: () => import('./commands/docs.js'),
  ctl: () => import('./commands/ctl.js'),
  feedback: () => import('./commands/feedback.js'),
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
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`tessera: unknown command "${name}"\n\n${await usage()}`);
    return 2;
  }
  try {
    return await (await load()).run(rest);
  } catch (err) {
    const e = TesseraError.from(err);
    const detail = e.code === 'INTERNAL' && err instanceof Error ? `: ${err.message}` : '';
    console.error(`tessera ${name}: ${e.message}${detail}${e.details.field ? ` (field: ${e.details.field})` : ''}`);
    return 1;
  }
}

const isEntry = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/libs\/cli\//, '/libs/cli/'));
if (isEntry) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
