/** `tessera docs add` / `query` against a real retrieval service on a real nats-server. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { retrievalV1 } from '@tessera/contracts';
import { createRetrievalService, loadRetrievalConfig, openEngine, type OpenedEngine } from '@tessera/retrieval';
import { hosted, startService, type ServiceHost } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import { run } from './docs.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-docs-'));
const bus = withNats();
let host: ServiceHost;
let opened: OpenedEngine;

function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let buf = '';
  s.on('data', (d) => (buf += String(d)));
  return { stream: s as unknown as NodeJS.WriteStream, text: () => buf };
}

beforeAll(async () => {
  const config = loadRetrievalConfig({ NATS_URL: bus.server.url, TESSERA_GRPC_PORT: '0', TESSERA_METRICS_PORT: '0', TESSERA_DATA_DIR: join(dir, 'data'), TESSERA_RETRIEVAL_JOB_BATCH_DOCUMENTS: '2' });
  opened = await openEngine(config);
  host = await startService({ config, nc: bus.nc, grpc: false, services: [hosted({ definition: retrievalV1.RetrievalServiceService, impl: createRetrievalService(opened.engine) })], handleSignals: false, metricsEndpoint: false, telemetry: { inMemory: true } });
}, 60_000);

afterAll(async () => {
  await host?.shutdown();
  await opened?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('adds text, Markdown and HTML files with a progress bar, then queries them', async () => {
  const files = [
    ['a.txt', 'Kyoto has many Zen temples and gardens.'],
    ['b.md', '# Osaka\n\nOsaka is known for street food like takoyaki.'],
    ['c.html', '<html><head><title>Sapporo</title></head><body><p>Sapporo hosts a snow festival every February.</p></body></html>'],
    ['d.txt', 'Nagoya castle has golden dolphins on its roof.'],
    ['e.txt', 'Hiroshima is famous for okonomiyaki.'],
  ].map(([name, text]) => {
    const p = join(dir, name!);
    writeFileSync(p, text!);
    return p;
  });
  const out = sink();
  const err = sink();
  const code = await run(['add', 'cities', ...files, '--tenant', 'acme', '--nats', bus.server.url, '--create', '--chunk-size', '200'], out.stream, err.stream);
  expect(err.text()).toContain('docs add cities: 100% (5/5)');
  expect(code).toBe(0);
  expect(out.text()).toMatch(/added 5 documents \(5 chunks\) to cities for tenant acme/);
  expect(await opened.engine.count('acme', 'cities')).toBe(5);
  const html = await opened.engine.get('acme', 'cities', { where: { format: 'html' } });
  expect(html[0]!.text).toBe('Sapporo hosts a snow festival every February.');
  expect(html[0]!.metadata).toMatchObject({ title: 'Sapporo', source: files[2] });

  const q = sink();
  expect(await run(['query', 'cities', 'snow festival', '--tenant', 'acme', '--nats', bus.server.url, '--k', '1'], q.stream, sink().stream)).toBe(0);
  expect(q.text()).toContain(`${files[2]}#0`);
  // Another tenant does not see the collection.
  const e = sink();
  await expect(run(['query', 'cities', 'snow', '--tenant', 'globex', '--nats', bus.server.url], sink().stream, e.stream)).rejects.toMatchObject({ code: 'NOT_FOUND' });
});

it('usage errors exit 2', async () => {
  const e = sink();
  expect(await run(['add', 'x'], sink().stream, e.stream)).toBe(2);
  expect(e.text()).toContain('usage:');
});
