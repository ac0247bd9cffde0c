/**
 * Message bodies on NATS: inline protobuf, or empty with a `tessera-claim` header when the payload
 * is above the claim-check threshold. Inbound inline bodies above `maxInlineBytes` are refused
 * (a well-behaved sender would have used a claim check).
 */
import type { MsgHdrs, NatsConnection } from 'nats';
import { getPayload, parseObjectRef, putPayload, type ClaimCheckOptions } from '../claim-check.js';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { Header } from '../wire-headers.js';
import { formatBytes } from '@tessera/config';
import { Metric, metrics } from '@tessera/telemetry';

export interface PayloadPolicy extends ClaimCheckOptions {
  /** Payloads above this many bytes go through the object store. Default 512 KiB. */
  claimThresholdBytes?: number;
  /** Largest inline body accepted. Default: the claim threshold. */
  maxInlineBytes?: number;
}

export const DEFAULT_THRESHOLD = 512 * 1024;

/** Returns the body to send; sets `tessera-claim` on `h` when the payload went to the object store. */
export async function outboundBody(nc: NatsConnection, bytes: Uint8Array, h: MsgHdrs, p: PayloadPolicy): Promise<Uint8Array> {
  if (bytes.length <= (p.claimThresholdBytes ?? DEFAULT_THRESHOLD)) return bytes;
  const ref = await putPayload(nc, bytes, p);
  metrics().counter(Metric.claimCheckBytes).inc({ direction: 'put' }, bytes.length);
  h.set(Header.CLAIM, JSON.stringify(ref));
  return new Uint8Array(0);
}

/** Resolves an inbound body (inline or claim check) to the payload bytes. */
export async function inboundBytes(nc: NatsConnection, data: Uint8Array, h: MsgHdrs | undefined, p: PayloadPolicy, what: string): Promise<Buffer> {
  const claim = h?.get(Header.CLAIM);
  if (claim) {
    const bytes = await getPayload(nc, parseObjectRef(claim), p);
    metrics().counter(Metric.claimCheckBytes).inc({ direction: 'get' }, bytes.length);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  const max = p.maxInlineBytes ?? p.claimThresholdBytes ?? DEFAULT_THRESHOLD;
  if (data.length > max) {
    throw new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, `${what}: inline payload of ${data.length} bytes is above the inline limit ${formatBytes(max)}; send it as a claim check (tessera-claim)`, {
      field: 'payload',
      limit: `inline payload <= ${max} bytes`,
    });
  }
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** protobuf decode with the failure mapped to INVALID_ARGUMENT. */
export function decodeOrThrow<T>(decode: (b: Buffer) => T, bytes: Buffer, what: string): T {
  try {
    return decode(bytes);
  } catch (err) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${what}: payload is not a valid protobuf message (${(err as Error).message})`, { field: 'payload' }, { cause: err });
  }
}
