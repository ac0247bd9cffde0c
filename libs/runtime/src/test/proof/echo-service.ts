/** The proof service: one implementation, bound to gRPC, NATS request/reply and the work queue in tests and bench. */
import { setTimeout as sleep } from 'node:timers/promises';
import { trace } from '@opentelemetry/api';
import type { CallContext } from '../../context.js';
import type { ServiceImpl } from '../../definition.js';
import { TesseraError, isErrorCode } from '@tessera/errors';
import { EchoServiceService, type CountRequest, type CountResponse, type EchoRequest, type EchoResponse } from './echo.gen.js';

export { EchoServiceService };
export type { EchoRequest, EchoResponse, CountRequest, CountResponse };

export interface EchoHooks {
  /** Called when a handler starts (tests observe where a job runs). */
  onStart?(method: string, ctx: CallContext): void;
  /** Called when a streaming handler stops (normally or aborted). */
  onStreamEnd?(sent: number, ctx: CallContext): void;
}

export function echoService(hooks: EchoHooks = {}): ServiceImpl<typeof EchoServiceService> {
  async function echo(req: EchoRequest, ctx: CallContext): Promise<EchoResponse> {
    hooks.onStart?.('echo', ctx);
    // A child span under the server span, as a real handler's model step would create.
    trace.getTracer('echo').startSpan('echo compute', {}, ctx.trace).end();
    if (req.delayMs > 0) await sleep(req.delayMs, undefined, { signal: ctx.signal });
    if (req.failCode) {
      if (!isErrorCode(req.failCode)) throw new Error(`unexpected crash: ${req.failCode}`);
      throw new TesseraError(req.failCode, `asked to fail with ${req.failCode}`, { field: 'fail_code', limit: 'none' });
    }
    return {
      text: req.text,
      tenant: ctx.tenant,
      requestId: ctx.requestId,
      blob: req.blob,
      pid: process.pid,
      traceId: trace.getSpanContext(ctx.trace)?.traceId ?? '',
      attempt: ctx.attempt,
    };
  }
  async function* count(req: CountRequest, ctx: CallContext): AsyncIterable<CountResponse> {
    hooks.onStart?.('count', ctx);
    let sent = 0;
    try {
      for (let n = 0; n < req.count; n++) {
        if (req.failAfter > 0 && n === req.failAfter) throw new TesseraError('FAILED_PRECONDITION', `count stops at fail_after=${req.failAfter}`, { field: 'fail_after' });
        if (req.delayMs > 0) await sleep(req.delayMs, undefined, { signal: ctx.signal });
        ctx.throwIfAborted();
        yield { n };
        sent++;
      }
    } finally {
      hooks.onStreamEnd?.(sent, ctx);
    }
  }
  return {
    echo,
    count,
    work: (req, ctx) => echo(req, ctx),
    countWork: (req, ctx) => count(req, ctx),
  };
}

/** How the proof service is bound to the work queue (shared by server and client). */
export const ECHO_WORK_QUEUE = { stage: 'echo', methods: ['work', 'countWork'] } as const;
