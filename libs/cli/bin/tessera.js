#!/usr/bin/env node
// Thin launcher: registers tsx so the TypeScript sources run without a build step.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/main.ts');
process.exit(await main(process.argv.slice(2)));
