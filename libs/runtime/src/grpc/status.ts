/**
 * The one mapping between TesseraError and gRPC status. The error travels as the standard rich
 * status: gRPC code + message, and a `google.rpc.Status` (ErrorInfo, BadRequest, RetryInfo) in the
 * `grpc-status-details-bin` trailer (see rpc-status.ts), which the client turns back into the same
 * TesseraError, details included. Any gRPC tool (grpcurl, Envoy, other languages' status helpers)
 * reads the same details.
 */
import { Metadata, status as GrpcStatus, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { ErrorCode, GRPC_STATUS, TesseraError } from '@tessera/errors';
import { decodeStatus, encodeStatus, errorFromStatus, statusOf, STATUS_DETAILS_TRAILER } from './rpc-status.js';

const FROM_GRPC: ReadonlyMap<number, ErrorCode> = new Map(Object.entries(GRPC_STATUS).map(([k, v]) => [v, k as ErrorCode]));
const codeFromGrpc = (n: number): ErrorCode => FROM_GRPC.get(n) ?? (n === GrpcStatus.UNKNOWN ? ErrorCode.INTERNAL : ErrorCode.UNAVAILABLE);

export function toGrpcStatus(err: unknown): Partial<StatusObject> & { code: number; details: string; metadata: Metadata } {
  const e = TesseraError.from(err);
  const code = GRPC_STATUS[e.code];
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_TRAILER, encodeStatus(statusOf(e, code)));
  return { code, details: e.message, metadata };
}

export function fromGrpcError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  const se = err as Partial<ServiceError>;
  if (typeof se?.code !== 'number') return TesseraError.from(err);
  const raw = se.metadata?.get(STATUS_DETAILS_TRAILER)[0];
  if (raw !== undefined && typeof raw !== 'string') {
    try {
      const s = errorFromStatus(decodeStatus(raw), codeFromGrpc);
      return new TesseraError(s.code, se.details || s.message || 'grpc error', s.details, { cause: err });
    } catch {
      /* a malformed trailer: fall back to the plain status below rather than fail the error path */
    }
  }
  return new TesseraError(codeFromGrpc(se.code), se.details ?? se.message ?? 'grpc error', {}, { cause: err });
}
