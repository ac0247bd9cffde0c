/**
 * The `edge` profile on one machine (docs/edge.md): hub + one site on NATS leaf nodes, the tiny
 * model served at both. Asks the site gateway for the hub model and the site model, cuts the uplink
 * and asks again (fallback), restores it, prints `tessera ctl sites`. `--serve` keeps it up.
 *   npx tsx libs/local-stack/src/edge-demo.ts [--serve]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureTinyModel } from '@tessera/model';
import { writeApiKeysFile } from './api-keys.js';
import { startEdgeStack } from './edge.js';

const { values } = parseArgs({ options: { serve: { type: 'boolean', default: false } } });
const KEY = 'sk-tessera-edge-demo';
const dir = mkdtempSync(join(tmpdir(), 'tessera-edge-demo-'));
const keysFile = writeApiKeysFile(join(dir, 'keys.json'), [{ id: 'demo', tenant: 'demo', key: KEY }]);
const edge = await startEdgeStack({ modelDir: await ensureTinyModel(), workDir: dir, keysFile, hubModel: 'minicpm-v-2_6', siteModel: 'minicpm-v-2_6-site' });
const ask = async (model: string) => {
  const res = await fetch(`${edge.siteStack.httpUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ model, max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] }) });
  const body = (await res.json()) as { model?: string; choices?: Array<{ message: { content: string } }>; error?: { message: string } };
  console.log(`  ${model}: ${res.status} answered by ${body.model ?? '-'} (${res.headers.get('x-tessera-served-by') ?? '-'}${res.headers.get('x-tessera-fallback-for') ? `, fallback for ${res.headers.get('x-tessera-fallback-for')}` : ''}) ${JSON.stringify(body.choices?.[0]?.message.content ?? body.error?.message)}`);
};
console.log(`hub: ${edge.hubStack.httpUrl} (nats ${edge.hub.nats.url}, monitor :${edge.hub.nats.monitorPort}); site ${edge.siteName}: ${edge.siteStack.httpUrl} (nats ${edge.site.nats.url})`);
await ask('minicpm-v-2_6');
await ask('minicpm-v-2_6-site');
console.log('uplink cut:');
edge.hub.uplink.cut();
await ask('minicpm-v-2_6');
edge.hub.uplink.restore();
console.log(`uplink restored; sites: npm run tessera -- ctl sites --nats-monitor http://127.0.0.1:${edge.hub.nats.monitorPort}`);
if (values.serve) {
  console.log(`serving until Ctrl-C (API key ${KEY})`);
  process.on('SIGINT', () => void edge.stop().then(() => process.exit(0)));
} else {
  await edge.stop();
}
