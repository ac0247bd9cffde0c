/**
 * `google.rpc.Status` in the `grpc-status-details-bin` trailer, the rich error model every gRPC
 * ecosystem reads (grpcurl, Envoy, the Go/Java/Python status helpers): code, message and typed
 * details as `google.protobuf.Any`:
 *  - `google.rpc.ErrorInfo`: reason = our ErrorCode name, domain = `tessera`, metadata = the other
 *    details (strings as they are, other values as JSON);
 *  - `google.rpc.BadRequest`: one field violation when the error names a field (the message, with
 *    the limit when there is one);
 *  - `google.rpc.RetryInfo`: the retry delay when the error carries `retryAfterMs`.
 * Encoded by hand with @bufbuild/protobuf's wire writer: three small messages do not justify shipping
 * googleapis .proto files and generated code (field numbers from google/rpc/*.proto).
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { ErrorCode, isErrorCode, TesseraError, type ErrorDetails } from '@tessera/errors';

export const STATUS_DETAILS_TRAILER = 'grpc-status-details-bin';
export const ERROR_DOMAIN = 'tessera';
const TYPE = 'type.googleapis.com/google.rpc.';

export interface RpcStatus {
  code: number;
  message: string;
  errorInfo?: { reason: string; domain: string; metadata: Record<string, string> };
  badRequest?: Array<{ field: string; description: string }>;
  retryDelayMs?: number;
}

/** TesseraError → google.rpc.Status with ErrorInfo, BadRequest and RetryInfo as they apply. */
export function statusOf(e: TesseraError, grpcCode: number): RpcStatus {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.details)) {
    if (k === 'retryAfterMs' || v === undefined) continue;
    metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return {
    code: grpcCode,
    message: e.message,
    errorInfo: { reason: e.code, domain: ERROR_DOMAIN, metadata },
    ...(typeof e.details.field === 'string' && { badRequest: [{ field: e.details.field, description: typeof e.details.limit === 'string' ? `${e.message} (limit: ${e.details.limit})` : e.message }] }),
    ...(typeof e.details.retryAfterMs === 'number' && { retryDelayMs: e.details.retryAfterMs }),
  };
}

/** google.rpc.Status → TesseraError parts (the ErrorInfo reason when it is ours, else from the gRPC code). */
export function errorFromStatus(s: RpcStatus, codeFromGrpc: (n: number) => ErrorCode): { code: ErrorCode; message: string; details: ErrorDetails } {
  const ours = s.errorInfo?.domain === ERROR_DOMAIN && isErrorCode(s.errorInfo.reason);
  const details: ErrorDetails = {};
  for (const [k, v] of Object.entries(s.errorInfo?.metadata ?? {})) details[k] = /^(true|false|null|-?\d|[[{])/.test(v) && k !== 'field' && k !== 'limit' ? parseOr(v) : v;
  if (!details.field && s.badRequest?.[0]) details.field = s.badRequest[0].field;
  if (s.retryDelayMs !== undefined) details.retryAfterMs = s.retryDelayMs;
  return { code: ours ? (s.errorInfo!.reason as ErrorCode) : codeFromGrpc(s.code), message: s.message, details };
}

function parseOr(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

export function encodeStatus(s: RpcStatus): Buffer {
  const w = new BinaryWriter();
  w.uint32((1 << 3) | WireType.Varint).int32(s.code);
  w.uint32((2 << 3) | WireType.LengthDelimited).string(s.message);
  const any = (type: string, value: Uint8Array) => w.uint32((3 << 3) | WireType.LengthDelimited).bytes(new BinaryWriter().uint32((1 << 3) | 2).string(TYPE + type).uint32((2 << 3) | 2).bytes(value).finish());
  if (s.errorInfo) {
    const e = new BinaryWriter().uint32((1 << 3) | 2).string(s.errorInfo.reason).uint32((2 << 3) | 2).string(s.errorInfo.domain);
    for (const [k, v] of Object.entries(s.errorInfo.metadata)) e.uint32((3 << 3) | 2).bytes(new BinaryWriter().uint32((1 << 3) | 2).string(k).uint32((2 << 3) | 2).string(v).finish());
    any('ErrorInfo', e.finish());
  }
  if (s.badRequest?.length) {
    const b = new BinaryWriter();
    for (const v of s.badRequest) b.uint32((1 << 3) | 2).bytes(new BinaryWriter().uint32((1 << 3) | 2).string(v.field).uint32((2 << 3) | 2).string(v.description).finish());
    any('BadRequest', b.finish());
  }
  if (s.retryDelayMs !== undefined) {
    const ms = Math.max(0, Math.round(s.retryDelayMs));
    const d = new BinaryWriter().uint32((1 << 3) | 0).int64(Math.floor(ms / 1000)).uint32((2 << 3) | 0).int32((ms % 1000) * 1_000_000).finish();
    any('RetryInfo', new BinaryWriter().uint32((1 << 3) | 2).bytes(d).finish());
  }
  return Buffer.from(w.finish());
}

/** Reads fields of one message: calls `on(fieldNo, reader)` for each, skipping what `on` leaves. */
function fields(bytes: Uint8Array, on: (no: number, r: BinaryReader, wire: WireType) => boolean): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wire] = r.tag();
    if (!on(no, r, wire)) r.skip(wire);
  }
}

export function decodeStatus(bytes: Uint8Array): RpcStatus {
  const s: RpcStatus = { code: 0, message: '' };
  fields(bytes, (no, r) => {
    if (no === 1) s.code = r.int32();
    else if (no === 2) s.message = r.string();
    else if (no === 3) {
      let type = '';
      let value: Uint8Array = new Uint8Array();
      fields(r.bytes(), (n, a) => (n === 1 ? ((type = a.string()), true) : n === 2 ? ((value = a.bytes()), true) : false));
      decodeDetail(s, type, value);
    } else return false;
    return true;
  });
  return s;
}

function decodeDetail(s: RpcStatus, type: string, value: Uint8Array): void {
  if (type === `${TYPE}ErrorInfo`) {
    const info = { reason: '', domain: '', metadata: {} as Record<string, string> };
    fields(value, (n, r) => {
      if (n === 1) info.reason = r.string();
      else if (n === 2) info.domain = r.string();
      else if (n === 3) {
        let k = '';
        let v = '';
        fields(r.bytes(), (m, e) => (m === 1 ? ((k = e.string()), true) : m === 2 ? ((v = e.string()), true) : false));
        info.metadata[k] = v;
      } else return false;
      return true;
    });
    s.errorInfo = info;
  } else if (type === `${TYPE}BadRequest`) {
    s.badRequest = [];
    fields(value, (n, r) => {
      if (n !== 1) return false;
      const v = { field: '', description: '' };
      fields(r.bytes(), (m, e) => (m === 1 ? ((v.field = e.string()), true) : m === 2 ? ((v.description = e.string()), true) : false));
      s.badRequest!.push(v);
      return true;
    });
  } else if (type === `${TYPE}RetryInfo`) {
    fields(value, (n, r) => {
      if (n !== 1) return false;
      let secs = 0;
      let nanos = 0;
      fields(r.bytes(), (m, e) => (m === 1 ? ((secs = Number(e.int64())), true) : m === 2 ? ((nanos = e.int32()), true) : false));
      s.retryDelayMs = secs * 1000 + Math.round(nanos / 1e6);
      return true;
    });
  }
}

export { ErrorCode };
