/**
 * safetensors: 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`, then the tensor bytes.
 * Reading is lazy: only the header is parsed up front; each tensor's byte range is read on demand,
 * so a 16 GB checkpoint is never held in memory (the builder converts one tensor at a time).
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { DTYPE_BYTES, isStoredDtype, type StoredDtype } from './dtype.js';

/** A header larger than this is refused (real 2.6 shards have ~30 KB headers). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsEntry {
  name: string;
  dtype: StoredDtype;
  shape: number[];
  file: string;
  /** Absolute byte offsets in the file (header included). */
  start: number;
  end: number;
}

const fail = (file: string, msg: string, extra: Record<string, unknown> = {}): TesseraError =>
  new TesseraError(ErrorCode.INVALID_ARGUMENT, `${basename(file)}: ${msg}`, { field: basename(file), file, ...extra });

export function readSafetensorsHeader(file: string): SafetensorsEntry[] {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new TesseraError(ErrorCode.NOT_FOUND, `${basename(file)}: cannot open safetensors file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { field: basename(file), file }, { cause: err });
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw fail(file, `truncated: ${size} bytes, shorter than the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > MAX_HEADER_BYTES) throw fail(file, `header length ${headerLen} exceeds the limit ${MAX_HEADER_BYTES} bytes`, { limit: `header <= ${MAX_HEADER_BYTES}` });
    if (8 + headerLen > size) throw fail(file, `truncated: header claims ${headerLen} bytes but the file has ${size} bytes`);
    const hb = Buffer.alloc(headerLen);
    readSync(fd, hb, 0, headerLen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hb.toString('utf8'));
    } catch (err) {
      throw fail(file, 'header is not valid JSON');
    }
    const base = 8 + headerLen;
    const out: SafetensorsEntry[] = [];
    for (const [name, v] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (!isStoredDtype(e.dtype)) {
        throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${basename(file)}: tensor ${name} has unsupported dtype ${JSON.stringify(e.dtype)} (supported: BF16, F16, F32)`, { field: name, file, limit: 'BF16|F16|F32' });
      }
      const shape = e.shape as number[];
      const offs = e.data_offsets as number[];
      if (!Array.isArray(shape) || !Array.isArray(offs) || offs.length !== 2) throw fail(file, `tensor ${name} has a malformed header entry`, { tensor: name });
      const n = shape.reduce((a, b) => a * b, 1);
      if (offs[1] - offs[0] !== n * DTYPE_BYTES[e.dtype]) throw fail(file, `tensor ${name}: data_offsets span ${offs[1] - offs[0]} bytes but shape ${JSON.stringify(shape)} × ${e.dtype} needs ${n * DTYPE_BYTES[e.dtype]}`, { tensor: name });
      if (base + offs[1] > size) throw fail(file, `truncated: tensor ${name} ends at byte ${base + offs[1]} but the file has ${size} bytes`, { tensor: name });
      out.push({ name, dtype: e.dtype, shape, file, start: base + offs[0], end: base + offs[1] });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Reads one tensor's raw bytes (positioned reads; no whole-file buffering). */
export function readTensorBytes(entry: SafetensorsEntry): Uint8Array {
  const len = entry.end - entry.start;
  // A fresh ArrayBuffer (not the pooled Buffer slab) so typed-array views are aligned.
  const buf = Buffer.from(new ArrayBuffer(len));
  const fd = openSync(entry.file, 'r');
  try {
    let off = 0;
    while (off < len) {
      const chunk = Math.min(len - off, 1 << 30);
      const n = readSync(fd, buf, off, chunk, entry.start + off);
      if (n === 0) throw fail(entry.file, `truncated while reading tensor ${entry.name}`, { tensor: entry.name });
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, len);
}

export interface TensorToWrite {
  name: string;
  dtype: StoredDtype;
  shape: number[];
  /** Produces the bytes when the writer reaches this tensor (keeps memory to one tensor). */
  bytes: () => Uint8Array;
}

/** Writes a safetensors file, tensors in the given order, header padded to 8 bytes with spaces. */
export function writeSafetensors(file: string, tensors: TensorToWrite[], metadata: Record<string, string> = { format: 'pt' }): number {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const t of tensors) {
    const len = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + len] };
    off += len;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const hb = Buffer.from(json, 'utf8');
  const fd = openSync(file, 'w');
  try {
    const lenBuf = Buffer.alloc(8);
    lenBuf.writeBigUInt64LE(BigInt(hb.length));
    writeSync(fd, lenBuf);
    writeSync(fd, hb);
    for (const t of tensors) writeSync(fd, t.bytes());
  } finally {
    closeSync(fd);
  }
  return off;
}
