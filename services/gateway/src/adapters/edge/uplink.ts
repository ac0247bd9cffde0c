/**
 * Hub side of the edge uplink: GatewayService.ChatCompletion offered directly by edge gateways on
 * `tessera.uplink.>` (core NATS) and otherwise served from the TESSERA_UPLINK work queue, which edge
 * gateways fill over their leaf links (only site credentials may publish on either).
 * The tenant comes from the bus header: the edge gateway authenticated the API key; the hub still
 * looks the tenant up, so an unknown tenant is refused and the hub's quotas apply.
 */
import { gatewayV1 } from '@tessera/contracts';
import { ErrorCode, hosted, TesseraError, type CallContext } from '@tessera/runtime';
import { UPLINK_NAMESPACE, UPLINK_STAGE } from '@tessera/edge';
import { gatewayGrpcService, type GatewayGrpcDeps } from '../../service.js';

/**
 * `concurrency`: forwarded chats streamed at once. A forwarded chat holds its slot for its whole
 * answer while it only waits on the decoder, so the work-queue default (TESSERA_MAX_CONCURRENCY, 4,
 * sized for a model stage) would hold a site's 5th concurrent request in the queue until an answer
 * ended; the decoder's own queue and the tenant quotas are the back-pressure here.
 */
export function uplinkBinding(deps: Omit<GatewayGrpcDeps, 'tenantOf'>, concurrency: number) {
  const tenantOf = (ctx: CallContext) => {
    const t = deps.keys.tenant(ctx.tenant);
    if (!t) throw new TesseraError(ErrorCode.PERMISSION_DENIED, `tenant "${ctx.tenant}" forwarded by an edge site is not known at the hub`, { field: 'tessera-tenant' });
    return t;
  };
  return hosted({
    // ChatCompletion only, from the queue and the uplink namespace: no request/reply subscription on
    // the gateway's own subjects, which the hub gateway's NATS user may not hold. Direct offers share
    // the queue's `concurrency` slots; one beyond them is refused at once and the site queues it.
    definition: { chatCompletion: gatewayV1.GatewayServiceService.chatCompletion },
    // No empty opening chunk (see GatewayGrpcDeps.openingChunk): the site drops it anyway.
    impl: { chatCompletion: gatewayGrpcService({ ...deps, tenantOf, openingChunk: false }).chatCompletion },
    grpc: false,
    requireTenant: true,
    workQueue: { stage: UPLINK_STAGE, methods: ['chatCompletion'], concurrency, direct: { namespace: UPLINK_NAMESPACE } },
  });
}
