/**
 * Writes deploy/nats/auth.conf and its chart copy helm/tessera/files/nats/auth.conf from
 * libs/runtime/src/nats/permissions.ts (per-service NATS users and subject permissions).
 *   node --import tsx scripts/gen-nats-auth.ts
 * libs/ctl/src/chart.test.ts fails when the checked-in files differ from what this writes.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deployNatsAuthConf } from '@tessera/runtime';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const conf = deployNatsAuthConf();
for (const p of ['deploy/nats/auth.conf', 'helm/tessera/files/nats/auth.conf']) writeFileSync(join(root, p), conf);
console.log(`wrote deploy/nats/auth.conf and helm/tessera/files/nats/auth.conf (${conf.length} bytes)`);
