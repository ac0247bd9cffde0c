/**
 * Export bundles: what a trainer loads without Tessera. A bundle is a directory or a tar with
 *   data.jsonl | data.parquet   the rows (parquet for RLAIF-V: its loader reads parquet + image bytes)
 *   images/<sha256>.<ext>        every image the rows refer to, once
 *   summary.json                 the export summary (rows, skipped, rows that lost their image, …)
 * Rows are rewritten from the Export stream's INLINE data URLs:
 * - TRL DPO / KTO / SFT: `images` becomes paths inside the bundle (`images/<sha>.png`), which
 *   `datasets.load_dataset("json", data_dir=bundle)` + `cast_column("images", Sequence(Image()))`
 *   resolves from the bundle directory;
 * - RLAIF-V: parquet with `image` = {bytes, path} (the Hugging Face Image struct, bytes filled, what
 *   RLAIF-V's RLAIFVDataset reads) and `image_path` = the path inside the bundle;
 * - OpenAI SFT keeps its data URLs (OpenAI's vision fine-tuning format wants them inline);
 * - OpenAI DPO and the spans sidecar carry no images.
 * Images are written as they arrive (one copy per sha256); only RLAIF-V's rows are held until the
 * parquet file is written, since hyparquet-writer writes a whole file at once.
 */
import { createReadStream, createWriteStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import tar from 'tar-stream';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { sha256Hex } from '../content-hash.js';
import type { ExportSummary } from './exporter.js';
import type { ExportFormat, Row } from './formats.js';

/** One item of an Export stream: a row as its JSON text, or the closing summary. */
export type BundleItem = { row: string } | { summary: Partial<ExportSummary> };

export interface BundleFile {
  path: string;
  bytes: Uint8Array;
}

/** Where a bundle's files go: a directory, or a tar stream written to `out`. */
export interface BundleSink {
  write(file: BundleFile): Promise<void>;
  close(): Promise<void>;
}

const EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif', 'image/tiff': 'tiff', 'image/heif': 'heic' };
const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

export function directorySink(dir: string): BundleSink {
  mkdirSync(join(dir, 'images'), { recursive: true });
  return {
    async write(f) {
      writeFileSync(join(dir, f.path), f.bytes);
    },
    async close() {},
  };
}

export function tarSink(out: NodeJS.WritableStream): BundleSink {
  const pack = tar.pack();
  const done = pipeline(pack, out);
  // A bundle abandoned before close (the export failed) must not leave an unhandled rejection; close() still sees it.
  done.catch(() => undefined);
  return {
    write: (f) =>
      new Promise<void>((resolve, reject) => {
        pack.entry({ name: f.path, size: f.bytes.length, mode: 0o644 }, Buffer.from(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength), (err) => (err ? reject(err) : resolve()));
      }),
    async close() {
      pack.finalize();
      await done;
    },
  };
}

/** Writes one export (rows in INLINE image mode) as a bundle; returns the summary it closed with. */
export async function writeBundle(format: ExportFormat, items: AsyncIterable<BundleItem>, sink: BundleSink): Promise<Partial<ExportSummary>> {
  const written = new Set<string>();
  const jsonl: string[] = [];
  const parquetRows: Row[] = [];
  let summary: Partial<ExportSummary> = {};
  const imageFile = async (url: string): Promise<{ path: string; bytes: Uint8Array }> => {
    const m = DATA_URL.exec(url);
    if (!m) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `an exported image is not a base64 data URL (export with image_mode INLINE): ${url.slice(0, 40)}`, { field: 'image_mode' });
    const bytes = Buffer.from(m[2]!, 'base64');
    const path = `images/${sha256Hex(bytes)}.${EXT[m[1]!] ?? 'bin'}`;
    if (!written.has(path)) {
      written.add(path);
      await sink.write({ path, bytes });
    }
    return { path, bytes };
  };
  for await (const item of items) {
    if ('summary' in item) {
      summary = item.summary;
      continue;
    }
    const row = JSON.parse(item.row) as Row;
    if (format === 'rlaif-v') {
      const image = row.image as { bytes: string | null; path: string } | null;
      if (image?.bytes) {
        const f = await imageFile(`data:${sniffMime(Buffer.from(image.bytes, 'base64'))};base64,${image.bytes}`);
        row.image = { bytes: f.bytes, path: f.path };
        row.image_path = f.path;
      }
      parquetRows.push(row);
      continue;
    }
    if (Array.isArray(row.images)) row.images = await Promise.all((row.images as string[]).map(async (u) => (await imageFile(u)).path));
    jsonl.push(JSON.stringify(row));
  }
  if (format === 'rlaif-v') await sink.write({ path: 'data.parquet', bytes: rlaifVParquet(parquetRows) });
  else await sink.write({ path: 'data.jsonl', bytes: Buffer.from(jsonl.map((l) => l + '\n').join('')) });
  await sink.write({ path: 'summary.json', bytes: Buffer.from(JSON.stringify({ format, ...summary }, null, 2) + '\n') });
  await sink.close();
  return summary;
}

/**
 * A bundle as tar bytes, streamed (the Export RPC's BUNDLE mode, which the gateway's HTTP route
 * serves): pieces of at least `chunkBytes` (the last may be shorter), then the generator returns the
 * export summary. 256 KiB keeps each piece under the claim-check threshold (512 KiB) on NATS.
 */
export async function* tarBundleChunks(format: ExportFormat, items: AsyncIterable<BundleItem>, chunkBytes = 256 * 1024): AsyncGenerator<Uint8Array, Partial<ExportSummary>> {
  const out = new PassThrough();
  const done = writeBundle(format, items, tarSink(out));
  // A failed export ends the byte stream with its error instead of leaving the reader waiting.
  done.catch((err: unknown) => out.destroy(err as Error));
  let parts: Buffer[] = [];
  let size = 0;
  for await (const c of out) {
    parts.push(c as Buffer);
    size += (c as Buffer).length;
    if (size >= chunkBytes) {
      yield Buffer.concat(parts);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts);
  return await done;
}

/** RLAIF-V rows carry bare base64 bytes: the file extension comes from the magic number. */
function sniffMime(b: Buffer): string {
  if (b[0] === 0xff && b[1] === 0xd8) return 'image/jpeg';
  if (b.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  if (b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  if (b[0] === 0x89 && b[1] === 0x50) return 'image/png';
  return 'application/octet-stream';
}

/** openbmb/RLAIF-V-Dataset's columns (plus `id`) with `image` as the HF Image struct {bytes, path}. */
function rlaifVParquet(rows: Row[]): Uint8Array {
  const col = (name: string) => rows.map((r) => r[name] ?? null);
  const str = (name: string) => ({ name, type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const, repetition_type: 'OPTIONAL' as const });
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'ds_name', data: col('ds_name') },
      { name: 'image', data: col('image') },
      { name: 'question', data: col('question') },
      { name: 'chosen', data: col('chosen') },
      { name: 'rejected', data: col('rejected') },
      { name: 'origin_dataset', data: col('origin_dataset') },
      { name: 'origin_split', data: col('origin_split') },
      { name: 'idx', data: rows.map((r) => BigInt(r.idx as number)) },
      { name: 'image_path', data: col('image_path') },
      { name: 'id', data: col('id') },
    ],
    schema: [
      { name: 'schema', num_children: 10 },
      str('ds_name'),
      { name: 'image', repetition_type: 'OPTIONAL', num_children: 2 },
      { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
      str('path'),
      str('question'),
      str('chosen'),
      str('rejected'),
      str('origin_dataset'),
      str('origin_split'),
      { name: 'idx', type: 'INT64', repetition_type: 'REQUIRED' },
      str('image_path'),
      str('id'),
    ],
  });
  return new Uint8Array(buf);
}

/** A bundle read back: rows (parquet decoded for RLAIF-V), image files by path, the summary. */
export interface ReadBundle {
  rows: Row[];
  images: Map<string, Uint8Array>;
  summary: Record<string, unknown>;
}

/** Reads a bundle directory or tar file (what a trainer's loader sees). */
export async function readBundle(path: string): Promise<ReadBundle> {
  const files = new Map<string, Uint8Array>();
  if (statSync(path).isDirectory()) {
    for (const name of ['data.jsonl', 'data.parquet', 'summary.json']) {
      try {
        files.set(name, readFileSync(join(path, name)));
      } catch {
        /* absent */
      }
    }
    for (const name of readdirSync(join(path, 'images'))) files.set(`images/${name}`, readFileSync(join(path, 'images', name)));
  } else {
    const extract = tar.extract();
    const reading = (async () => {
      for await (const entry of extract) {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        files.set(entry.header.name, Buffer.concat(chunks));
      }
    })();
    await pipeline(createReadStream(path), extract);
    await reading;
  }
  const images = new Map([...files].filter(([k]) => k.startsWith('images/')));
  const summary = JSON.parse(Buffer.from(files.get('summary.json') ?? Buffer.from('{}')).toString('utf8')) as Record<string, unknown>;
  const parquet = files.get('data.parquet');
  if (parquet) {
    const ab = parquet.buffer.slice(parquet.byteOffset, parquet.byteOffset + parquet.byteLength) as ArrayBuffer;
    const rows = (await parquetReadObjects({ file: ab, utf8: false })) as Row[];
    return { rows: rows.map(decodeParquetRow), images, summary };
  }
  const text = Buffer.from(files.get('data.jsonl') ?? new Uint8Array()).toString('utf8');
  return { rows: text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row), images, summary };
}

/** hyparquet with utf8=false gives every BYTE_ARRAY as bytes; strings are UTF-8 except image.bytes. */
function decodeParquetRow(r: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(r)) {
    if (k === 'image' && v && typeof v === 'object') {
      const img = v as { bytes?: Uint8Array; path?: Uint8Array | string };
      out.image = { bytes: img.bytes ?? null, path: typeof img.path === 'string' ? img.path : Buffer.from(img.path ?? new Uint8Array()).toString('utf8') };
    } else out[k] = v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : typeof v === 'bigint' ? Number(v) : v;
  }
  return out;
}

/** Used by the CLI to pick a sink from `--out`: a `.tar` file, else a directory. */
export function sinkFor(out: string): BundleSink {
  return out.endsWith('.tar') ? tarSink(createWriteStream(out)) : directorySink(out);
}
