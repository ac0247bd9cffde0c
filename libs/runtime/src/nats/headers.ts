import { headers as natsHeaders, type MsgHdrs } from 'nats';
import type { Context } from '@opentelemetry/api';
import { injectTrace } from '@tessera/telemetry';
import type { ResolvedCall } from '../context.js';
import { Header } from '../wire-headers.js';

/** Request headers for an outbound call: tenant, request id, absolute deadline, trace context, extras. */
export function requestHeaders(call: ResolvedCall, trace: Context): MsgHdrs {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(call.headers)) h.set(k.toLowerCase(), v);
  if (call.tenant) h.set(Header.TENANT, call.tenant);
  h.set(Header.REQUEST_ID, call.requestId);
  h.set(Header.DEADLINE, String(call.deadline));
  injectTrace(trace, { get: (k) => h.get(k) || undefined, set: (k, v) => h.set(k, v) });
  return h;
}

/** NATS headers → lower-case record (first value of each). */
export function headersToRecord(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const k of h.keys()) out[k.toLowerCase()] = h.get(k);
  return out;
}
