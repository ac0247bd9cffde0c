import type { commonV1 } from '@tessera/contracts';
import type { ChatUsage } from './chat-events.js';

/** `tessera.common.v1.Usage` → ChatUsage: the decoder's final chunk (orchestrator) and the hub's (edge uplink). */
export function usageFromWire(u: commonV1.Usage | undefined): ChatUsage {
  return { promptTokens: u?.promptTokens ?? 0, visualTokens: u?.visualTokens ?? 0, completionTokens: u?.completionTokens ?? 0, cachedTokens: u?.cachedTokens ?? 0 };
}

/** ChatUsage → `tessera.common.v1.Usage` (total = prompt + completion): the gRPC edge, the uplink and feedback records. */
export function usageToWire(u: ChatUsage): commonV1.Usage {
  return { promptTokens: u.promptTokens, visualTokens: u.visualTokens, completionTokens: u.completionTokens, totalTokens: u.promptTokens + u.completionTokens, ...(u.cachedTokens && { cachedTokens: u.cachedTokens }) };
}
