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

/** What an edge site may call at the hub gateway (its client lists the same; hub-chat.ts). */
export const UPLINK_METHODS = ['chatCompletion', 'submitFeedback'] as const;

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/**
 * The ids a site's gateway draws, per kind of forwarded request; anything else is not taken. A chat:
 * `chatcmpl-<uuid>`, or a `/v1/responses` answer's `resp_` + 32 hex (http/responses-handler.ts). A text
 * completion: `cmpl-<uuid>`, a batch's prompt p > 0 with `-p<p>` (domain/choices.ts promptResponseId).
 */
const SITE_RESPONSE_IDS: Readonly<Record<'chatcmpl' | 'cmpl', RegExp>> = {
  chatcmpl: new RegExp(`^(chatcmpl-${UUID}|resp_[0-9a-f]{32})$`),
  cmpl: new RegExp(`^cmpl-${UUID}(-p[1-9][0-9]{0,3})?$`),
};

/**
 * The site's response id for a forwarded chat, when it is one of the kind asked for: the hub records
 * the answer under the id the site's client sees. Sites are trusted with the tenant already; a random
 * UUID id adds no trust, and a reused one is refused by the feedback store as any id reused with other
 * content is (ALREADY_EXISTS), never overwritten.
 */
function siteResponseId(ctx: CallContext, prefix: 'chatcmpl' | 'cmpl'): string | undefined {
  const id = ctx.headers['x-response-id'];
  return id !== undefined && SITE_RESPONSE_IDS[prefix].test(id) ? id : undefined;
}

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
  const service = gatewayGrpcService({ ...deps, tenantOf, openingChunk: false, responseIdOf: siteResponseId });
  return hosted({
    // ChatCompletion and SubmitFeedback, from the queue (and chats from the uplink namespace): no
    // request/reply subscription on the gateway's own subjects, which the hub gateway's NATS user may
    // not hold. Direct offers share the queue's `concurrency` slots; one beyond them is refused at once
    // and the site queues it. Feedback on a hub answer comes this way: its record is here, not at the site.
    definition: { chatCompletion: gatewayV1.GatewayServiceService.chatCompletion, submitFeedback: gatewayV1.GatewayServiceService.submitFeedback },
    // No empty opening chunk (see GatewayGrpcDeps.openingChunk): the site drops it anyway.
    impl: { chatCompletion: service.chatCompletion, submitFeedback: service.submitFeedback },
    grpc: false,
    requireTenant: true,
    workQueue: { stage: UPLINK_STAGE, methods: UPLINK_METHODS, concurrency, direct: { namespace: UPLINK_NAMESPACE } },
  });
}
