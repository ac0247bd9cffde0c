/**
 * `tessera docs` — document ingestion and search against the retrieval service over NATS.
 *   tessera docs add COLLECTION FILE… [--tenant T] [--nats URL] [--create] [--chunk-size N]
 *                    [--chunk-overlap N] [--strategy recursive|sentence|none] [--locale L]
 *   tessera docs query COLLECTION TEXT [--k N] [--mode default|dense|mmr|hybrid|lexical] [--where JSON]
 * Files are .txt, .md/.markdown or .html/.htm (others: sniffed, HTML or text). Each file is one
 * document whose id is its path; re-adding a file replaces its chunks. Large ingests are sent in
 * batches as asynchronous jobs and polled (GetIngestionJob) to drive the progress bar.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { retrievalV1 } from '@tessera/contracts';
import { sha256Hex } from '@tessera/errors';
import { detectFormat } from '@tessera/retrieval';
import { connectNats, invalidArgument, natsAuthFromEnv, natsClient } from '@tessera/runtime';
import { ProgressBar } from '../progress.js';

export const summary = 'ingest files into a retrieval collection (add) or search it (query)';

export const USAGE = `usage:
  tessera docs add COLLECTION FILE... [--tenant T] [--nats URL] [--create] [--chunk-size N] [--chunk-overlap N] [--strategy recursive|sentence|none] [--locale L]
  tessera docs query COLLECTION TEXT [--tenant T] [--nats URL] [--k N] [--mode default|dense|mmr|hybrid|lexical] [--where JSON]`;

/** Stay well under NATS max_payload (1 MiB) and the service's per-request limits (256 docs, 1 MiB). */
const BATCH_BYTES = 512 * 1024;
const BATCH_DOCS = 128;
const POLL_MS = 200;

const STRATEGY: Record<string, retrievalV1.SplitOptions_Strategy> = {
  recursive: retrievalV1.SplitOptions_Strategy.RECURSIVE,
  sentence: retrievalV1.SplitOptions_Strategy.SENTENCE,
  none: retrievalV1.SplitOptions_Strategy.NONE,
};
const MODE: Record<string, retrievalV1.SearchMode> = {
  // The service's default (hybrid, its fusion chosen by the collection's embedder kind; services/retrieval README).
  default: retrievalV1.SearchMode.UNSPECIFIED,
  dense: retrievalV1.SearchMode.DENSE,
  mmr: retrievalV1.SearchMode.MMR,
  hybrid: retrievalV1.SearchMode.HYBRID,
  lexical: retrievalV1.SearchMode.LEXICAL,
};

function documentId(path: string): string {
  const id = path.replace(/#/g, '_');
  return id.length <= 128 ? id : `${id.slice(0, 100)}~${sha256Hex(path).slice(0, 16)}`;
}

function int(v: string | undefined, name: string): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw invalidArgument(name, `--${name} must be a non-negative integer, got ${v}`);
  return n;
}

export async function run(argv: string[], out: NodeJS.WriteStream = process.stdout, err: NodeJS.WriteStream = process.stderr): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string', default: process.env.TESSERA_TENANT ?? 'default' },
      nats: { type: 'string', default: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
      create: { type: 'boolean', default: false },
      'chunk-size': { type: 'string' },
      'chunk-overlap': { type: 'string' },
      strategy: { type: 'string', default: 'recursive' },
      locale: { type: 'string', default: '' },
      k: { type: 'string', default: '4' },
      mode: { type: 'string', default: 'default' },
      where: { type: 'string' },
      timeout: { type: 'string', default: '120000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [sub, collection, ...rest] = positionals;
  if (values.help || !sub || !collection || rest.length === 0 || (sub !== 'add' && sub !== 'query')) {
    (values.help ? out : err).write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const call = { tenant: values.tenant!, timeoutMs: int(values.timeout, 'timeout') };
  const nc = await connectNats({ natsUrl: values.nats!, serviceName: 'tessera-cli', ...natsAuthFromEnv() }, { maxReconnectAttempts: 0 });
  const client = natsClient(nc, retrievalV1.RetrievalServiceService);
  try {
    if (sub === 'query') {
      const mode = MODE[values.mode!];
      if (mode === undefined) throw invalidArgument('mode', `--mode must be one of ${Object.keys(MODE).join(', ')}`);
      const where = values.where ? (JSON.parse(values.where) as Record<string, unknown>) : undefined;
      const res = await client.query({ collection, query: { $case: 'text', text: rest.join(' ') }, k: int(values.k, 'k'), mode, includeVectors: false, ...(where && { where }) }, call);
      for (const r of res.results) out.write(`${r.relevance.toFixed(3)}  ${r.id}  ${JSON.stringify(r.text.slice(0, 120))}\n`);
      return 0;
    }
    return await add(client, collection, rest, values, call, out, err);
  } finally {
    client.close();
    await nc.close();
  }
}

type Client = ReturnType<typeof natsClient<typeof retrievalV1.RetrievalServiceService>>;

async function add(
  client: Client,
  collection: string,
  files: string[],
  values: Record<string, string | boolean | undefined>,
  call: { tenant: string; timeoutMs: number },
  out: NodeJS.WriteStream,
  err: NodeJS.WriteStream,
): Promise<number> {
  const strategy = STRATEGY[values.strategy as string];
  if (strategy === undefined) throw invalidArgument('strategy', `--strategy must be one of ${Object.keys(STRATEGY).join(', ')}`);
  const split: retrievalV1.SplitOptions = {
    strategy,
    chunkSize: int(values['chunk-size'] as string | undefined, 'chunk-size'),
    chunkOverlap: int(values['chunk-overlap'] as string | undefined, 'chunk-overlap'),
    separators: [],
    locale: (values.locale as string) ?? '',
  };
  if (values.create) {
    await client.createCollection({ name: collection, description: '', distance: retrievalV1.Distance.UNSPECIFIED, embeddingModel: '', dimension: 0, getOrCreate: true }, call);
  }
  const docs: retrievalV1.Document[] = [];
  for (const path of files) {
    const text = await readFile(path, 'utf8');
    docs.push({ id: documentId(path), text, metadata: { source: path, format: detectFormat(text, undefined, path) } });
  }
  const batches: retrievalV1.Document[][] = [];
  let cur: retrievalV1.Document[] = [];
  let bytes = 0;
  for (const d of docs) {
    const b = Buffer.byteLength(d.text);
    if (cur.length > 0 && (bytes + b > BATCH_BYTES || cur.length >= BATCH_DOCS)) {
      batches.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(d);
    bytes += b;
  }
  if (cur.length > 0) batches.push(cur);

  const bar = new ProgressBar(`docs add ${collection}`, docs.length, err);
  const t0 = Date.now();
  let done = 0;
  let chunks = 0;
  for (const batch of batches) {
    const res = await client.addDocuments({ collection, documents: batch, split, async: true }, call);
    let job = res.job!;
    while (job.state === retrievalV1.IngestionJob_State.PENDING || job.state === retrievalV1.IngestionJob_State.RUNNING) {
      bar.update(done + job.documentsDone);
      await new Promise((r) => setTimeout(r, POLL_MS));
      job = (await client.getIngestionJob({ jobId: job.id }, call)).job!;
    }
    if (job.state !== retrievalV1.IngestionJob_State.SUCCEEDED) {
      bar.update(done + job.documentsDone);
      err.write(`\ntessera docs: job ${job.id} failed: ${job.error?.message ?? 'unknown error'}${job.error?.field ? ` (field: ${job.error.field})` : ''}\n`);
      return 1;
    }
    done += batch.length;
    chunks += job.chunksWritten;
    bar.update(done);
  }
  bar.finish();
  out.write(`added ${docs.length} documents (${chunks} chunks) to ${collection} for tenant ${call.tenant} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return 0;
}
