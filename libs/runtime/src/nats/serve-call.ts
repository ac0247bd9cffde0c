/**
 * One inbound NATS call, for both request/reply and the JetStream work queue: headers → ctx,
 * payload (inline or claim check) → request, handler → reply (unary) or chunk stream.
 * Errors are returned, not sent: the work queue decides between replying, retrying (nak) and
 * terminating; request/reply always replies.
 */
import type { MsgHdrs, NatsConnection } from 'nats';
import { Attr, SpanName, extractTrace } from '@tessera/telemetry';
import type { MethodInfo } from '../definition.js';
import { raceAbort } from '../context.js';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { beginCall, pumpStream, wireError, type ActiveCall, type ServerPolicy } from '../server-call.js';
import { SpanKind } from '../tracing.js';
import { Header } from '../wire-headers.js';
import { headersToRecord } from './headers.js';
import { decodeOrThrow, inboundBytes, outboundBody, type PayloadPolicy } from './payload.js';
import { StreamSender, parseHeartbeat, parseWindow } from './stream-sender.js';
import { errorHeaders } from './status.js';
import { headers as natsHeaders } from 'nats';

export type Handler = (req: unknown, ctx: unknown) => unknown;

export interface ServeArgs {
  nc: NatsConnection;
  info: MethodInfo;
  fn: Handler;
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  transport: 'nats' | 'jetstream';
  policy: ServerPolicy;
  payload: PayloadPolicy;
  creditTimeoutMs: number;
  attempt: number;
  working?: () => void;
  controller: AbortController;
  /** Where a unary reply (or any error before a stream starts) goes. */
  reply(body: Uint8Array, h: MsgHdrs): void;
  /** Core streaming: tells the caller the call was accepted (before the first chunk). */
  accepted?(): void;
  consumerGroup: string;
  /** Registers the ctx while the call runs (graceful shutdown). */
  track(active: ActiveCall | undefined): void;
}

export type Outcome =
  | { ok: true }
  | {
      ok: false;
      error: TesseraError;
      /** `before`: rejected before the handler (bad input, deadline); `handler`: the handler failed. */
      phase: 'before' | 'handler';
      /** Sends the error to the caller (unary reply or stream end marker). */
      replyError(): void;
      /** Releases stream resources without telling the caller (work-queue nak: a redelivery answers). */
      discard(): void;
      /** Chunks already sent before the failure. */
      chunksSent: number;
    };

export async function serveCall(a: ServeArgs): Promise<Outcome> {
  const what = `${a.info.service}/${a.info.method}`;
  const record = headersToRecord(a.headers);
  let active: ActiveCall | undefined;
  let sender: StreamSender | undefined;
  const replyTo = record[Header.REPLY_TO];
  const fail = (err: unknown, phase: 'before' | 'handler'): Outcome => {
    const e = wireError(err, active?.ctx);
    active?.finish(e);
    a.track(undefined);
    return {
      ok: false,
      error: e,
      phase,
      chunksSent: sender?.sent ?? 0,
      replyError: () => {
        if (sender) sender.end(e);
        else a.reply(new Uint8Array(0), endHeaders(errorHeaders(e), a.attempt));
      },
      discard: () => sender?.close(),
    };
  };

  let request: unknown;
  try {
    active = beginCall(
      {
        info: a.info,
        transport: a.transport,
        headers: record,
        trace: extractTrace({ get: (k) => record[k], set: () => {} }),
        spanName: SpanName.natsProcess(a.subject),
        spanKind: SpanKind.CONSUMER,
        spanAttributes: {
          [Attr.messagingSystem]: 'nats',
          [Attr.messagingOperation]: 'process',
          [Attr.messagingDestination]: a.subject,
          [Attr.messagingConsumerGroup]: a.consumerGroup,
          [Attr.messagingDeliveryCount]: a.attempt,
        },
        attempt: a.attempt,
        working: a.working,
        controller: a.controller,
      },
      a.policy,
    );
    a.track(active);
    const bytes = await inboundBytes(a.nc, a.data, a.headers, a.payload, what);
    request = decodeOrThrow((b) => a.info.def.requestDeserialize(b), bytes, what);
    if (a.info.def.responseStream && !replyTo) {
      throw new TesseraError('INVALID_ARGUMENT', `${what} is server-streaming: the request needs a tessera-reply-to inbox`, { field: 'tessera-reply-to' });
    }
  } catch (err) {
    return fail(err, 'before');
  }

  const ctx = active.ctx;
  try {
    if (!a.info.def.responseStream) {
      // The caller can cancel (it sent a control subject): `cancel` there aborts ctx.signal.
      const control = record[Header.CONTROL];
      const sub = control
        ? a.nc.subscribe(control, {
            callback: (_e, m) => {
              if (m.headers?.get(Header.KIND) === 'cancel') a.controller.abort(new TesseraError(ErrorCode.CANCELLED, 'call cancelled by the client'));
            },
          })
        : undefined;
      let res: unknown;
      try {
        res = await raceAbort(a.fn(request, ctx) as Promise<unknown>, ctx.signal);
      } finally {
        sub?.unsubscribe();
      }
      const h = endHeaders(natsHeaders(), a.attempt);
      const body = await outboundBody(a.nc, a.info.def.responseSerialize(res), h, a.payload);
      a.reply(body, h);
    } else {
      const out = new StreamSender({
        nc: a.nc,
        replyTo: replyTo!,
        control: record[Header.CONTROL],
        window: parseWindow(record[Header.WINDOW]),
        controller: a.controller,
        creditTimeoutMs: a.creditTimeoutMs,
        payload: a.payload,
        attempt: a.attempt,
        heartbeatMs: parseHeartbeat(record[Header.HEARTBEAT]),
      });
      sender = out;
      a.accepted?.();
      await pumpStream(a.fn(request, ctx) as AsyncIterable<unknown>, ctx, { method: what, transport: a.transport }, (chunk) => out.send(a.info.def.responseSerialize(chunk)));
      out.end();
    }
  } catch (err) {
    return fail(err, 'handler');
  }
  active.finish();
  a.track(undefined);
  return { ok: true };
}

function endHeaders(h: MsgHdrs, attempt: number): MsgHdrs {
  h.set(Header.END, '1');
  h.set(Header.ATTEMPT, String(attempt));
  return h;
}

