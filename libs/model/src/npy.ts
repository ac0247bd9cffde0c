/**
 * NumPy `.npy` (format 1.0/2.0, little-endian, C order) and `.npz` (zip of .npy; stored or deflated
 * on read, stored on write) for `tessera model run-stage`. Supported dtypes: float32, float64,
 * int64, int32, bool, uint8 — what the stage inputs and outputs use.
 */
import { inflateRawSync, crc32 } from 'node:zlib';
import { ErrorCode, TesseraError } from '@tessera/errors';

export type NpyDtype = 'float32' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8';
export interface NdArray {
  dtype: NpyDtype;
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
}

const DESCR: Record<string, NpyDtype> = { '<f4': 'float32', '<f8': 'float64', '<i8': 'int64', '<i4': 'int32', '|b1': 'bool', '|u1': 'uint8' };
const DESCR_OF: Record<NpyDtype, string> = { float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', bool: '|b1', uint8: '|u1' };
const BYTES: Record<NpyDtype, number> = { float32: 4, float64: 8, int64: 8, int32: 4, bool: 1, uint8: 1 };
const MAGIC = '\x93NUMPY';

const bad = (name: string, msg: string): TesseraError => new TesseraError(ErrorCode.INVALID_ARGUMENT, `${name}: ${msg}`, { field: name });

export function parseNpy(buf: Uint8Array, name = 'array.npy'): NdArray {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 10 || b.toString('latin1', 0, 6) !== MAGIC) throw bad(name, 'not a .npy file (bad magic)');
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = b.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !(descr in DESCR)) throw bad(name, `dtype ${descr} is not supported (supported: ${Object.keys(DESCR).join(', ')})`);
  if (fortran !== 'False') throw bad(name, 'fortran_order arrays are not supported');
  const shape = (shapeStr ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const dtype = DESCR[descr];
  const n = shape.reduce((a, c) => a * c, 1);
  const start = hstart + hlen;
  if (b.length - start < n * BYTES[dtype]) throw bad(name, `truncated: needs ${n * BYTES[dtype]} data bytes, has ${b.length - start}`);
  const copy = new Uint8Array(n * BYTES[dtype]);
  copy.set(b.subarray(start, start + copy.length));
  const ab = copy.buffer;
  const data = dtype === 'float32' ? new Float32Array(ab) : dtype === 'float64' ? new Float64Array(ab) : dtype === 'int64' ? new BigInt64Array(ab) : dtype === 'int32' ? new Int32Array(ab) : new Uint8Array(ab);
  return { dtype, shape, data };
}

export function encodeNpy(a: NdArray): Uint8Array {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '${DESCR_OF[a.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const h = Buffer.alloc(10);
  h.write(MAGIC, 0, 'latin1');
  h[6] = 1;
  h[7] = 0;
  h.writeUInt16LE(header.length, 8);
  const data = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  return Buffer.concat([h, Buffer.from(header, 'latin1'), data]);
}

/** Reads every member of an .npz (ZIP_STORED or ZIP_DEFLATED) keyed by name without `.npy`. */
export function parseNpz(buf: Uint8Array, name = 'arrays.npz'): Record<string, NdArray> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 65557); i--) if (b.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) throw bad(name, 'not a zip/npz file (no end of central directory)');
  const count = b.readUInt16LE(eocd + 10);
  let p = b.readUInt32LE(eocd + 16);
  const out: Record<string, NdArray> = {};
  for (let k = 0; k < count; k++) {
    if (b.readUInt32LE(p) !== 0x02014b50) throw bad(name, 'corrupt central directory');
    const method = b.readUInt16LE(p + 10);
    const csize = b.readUInt32LE(p + 20);
    const nlen = b.readUInt16LE(p + 28);
    const elen = b.readUInt16LE(p + 30);
    const clen = b.readUInt16LE(p + 32);
    const local = b.readUInt32LE(p + 42);
    const fname = b.toString('utf8', p + 46, p + 46 + nlen);
    p += 46 + nlen + elen + clen;
    const lstart = local + 30 + b.readUInt16LE(local + 26) + b.readUInt16LE(local + 28);
    const raw = b.subarray(lstart, lstart + csize);
    const body = method === 0 ? raw : method === 8 ? inflateRawSync(raw) : null;
    if (!body) throw bad(name, `member ${fname} uses unsupported compression ${method}`);
    out[fname.replace(/\.npy$/, '')] = parseNpy(body, `${name}:${fname}`);
  }
  return out;
}

/** Writes an .npz with stored (uncompressed) members, as numpy.savez does. */
export function encodeNpz(arrays: Record<string, NdArray>): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [key, arr] of Object.entries(arrays)) {
    const body = Buffer.from(encodeNpy(arr));
    const fname = Buffer.from(`${key}.npy`, 'utf8');
    const crc = crc32(body) >>> 0;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(body.length, 22);
    lh.writeUInt16LE(fname.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(body.length, 24);
    ch.writeUInt16LE(fname.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, fname, body);
    centrals.push(ch, fname);
    offset += 30 + fname.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(arrays).length, 8);
  end.writeUInt16LE(Object.keys(arrays).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
