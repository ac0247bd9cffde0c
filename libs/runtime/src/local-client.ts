/**
 * In-process client: calls the implementation directly with a proper ctx (no serialization, no
 * network). For tests, single-process tools, and the bench baseline.
 */
import { context } from '@opentelemetry/api';
import { createContext, resolveCallOptions, type CallOptions } from './context.js';
import { methodsOf, type ServiceDefinition, type ServiceImpl } from './definition.js';
import type { ServiceClient } from './client-types.js';

export function localClient<D extends ServiceDefinition>(definition: D, impl: ServiceImpl<D>): ServiceClient<D> {
  const out: Record<string, unknown> = { close: () => {} };
  for (const info of methodsOf(definition)) {
    const fn = (impl as Record<string, (req: unknown, ctx: unknown) => unknown>)[info.key]!.bind(impl);
    const ctxFor = (o?: CallOptions) => {
      const call = resolveCallOptions(o);
      const controller = new AbortController();
      if (call.signal) {
        if (call.signal.aborted) controller.abort(call.signal.reason);
        else call.signal.addEventListener('abort', () => controller.abort(call.signal!.reason), { once: true });
      }
      return createContext({ tenant: call.tenant, requestId: call.requestId, deadline: call.deadline, headers: call.headers, transport: 'local', method: info.path, trace: call.trace ?? context.active(), controller });
    };
    out[info.key] = info.def.responseStream
      ? async function* (req: unknown, o?: CallOptions) {
          const ctx = ctxFor(o);
          try {
            yield* fn(req, ctx) as AsyncIterable<unknown>;
          } finally {
            ctx.dispose();
          }
        }
      : async (req: unknown, o?: CallOptions) => {
          const ctx = ctxFor(o);
          try {
            return await (fn(req, ctx) as Promise<unknown>);
          } finally {
            ctx.dispose();
          }
        };
  }
  return out as ServiceClient<D>;
}
