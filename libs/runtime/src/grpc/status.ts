/**
 * The one mapping between TesseraError and gRPC status (code, details, trailers).
 * Trailers carry `tessera-error-code` and `tessera-error-details-bin` (UTF-8 JSON), so the client
 * rebuilds the same TesseraError, details included.
 */
import { Metadata, status as GrpcStatus, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { ErrorCode, GRPC_STATUS, TesseraError, isErrorCode, type ErrorDetails } from '../errors.js';
import { Header } from '../wire-headers.js';

const DETAILS_BIN = `${Header.ERROR_DETAILS}-bin`;

const FROM_GRPC: ReadonlyMap<number, ErrorCode> = new Map(Object.entries(GRPC_STATUS).map(([k, v]) => [v, k as ErrorCode]));

export function toGrpcStatus(err: unknown): Partial<StatusObject> & { code: number; details: string; metadata: Metadata } {
  const e = TesseraError.from(err);
  const metadata = new Metadata();
  metadata.set(Header.ERROR_CODE, e.code);
  if (Object.keys(e.details).length > 0) metadata.set(DETAILS_BIN, Buffer.from(JSON.stringify(e.details), 'utf8'));
  return { code: GRPC_STATUS[e.code], details: e.message, metadata };
}

export function fromGrpcError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  const se = err as Partial<ServiceError>;
  if (typeof se?.code !== 'number') return TesseraError.from(err);
  const md = se.metadata;
  const named = md?.get(Header.ERROR_CODE)[0];
  const code: ErrorCode = isErrorCode(named) ? named : FROM_GRPC.get(se.code) ?? (se.code === GrpcStatus.UNKNOWN ? ErrorCode.INTERNAL : ErrorCode.UNAVAILABLE);
  let details: ErrorDetails = {};
  const raw = md?.get(DETAILS_BIN)[0];
  if (raw !== undefined) {
    try {
      details = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw)) as ErrorDetails;
    } catch {
      /* keep empty details rather than fail the error path */
    }
  }
  return new TesseraError(code, se.details ?? se.message ?? 'grpc error', details, { cause: err });
}
