import { Metadata } from '@grpc/grpc-js';
import { Header } from '../wire-headers.js';
import type { ResolvedCall } from '../context.js';
import { injectTrace, type HeaderCarrier } from '@tessera/telemetry';
import type { Context } from '@opentelemetry/api';

/** gRPC metadata → lower-case string headers (binary `-bin` entries are skipped). */
export function metadataToHeaders(md: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) if (typeof v === 'string') out[k.toLowerCase()] = v;
  return out;
}

/** Outbound metadata for one client call: tenant, request id, absolute deadline, trace context, extras. */
export function callMetadata(call: ResolvedCall, trace: Context): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(call.headers)) md.set(k.toLowerCase(), v);
  if (call.tenant) md.set(Header.TENANT, call.tenant);
  md.set(Header.REQUEST_ID, call.requestId);
  md.set(Header.DEADLINE, String(call.deadline));
  const carrier: HeaderCarrier = { get: (k) => md.get(k)[0] as string | undefined, set: (k, v) => md.set(k, v) };
  injectTrace(trace, carrier);
  return md;
}
