/**
 * For the gateway: a RetrievalService Query response (wire form) → the grounded-chat context
 * block, so grounding needs one Query call and no second RPC.
 */
import type { retrievalV1 } from '@tessera/contracts';
import { formatContext, type ContextBlock } from './context-block.js';

export function contextFromQueryResponse(resp: retrievalV1.QueryResponse, maxChars?: number): ContextBlock {
  return formatContext(
    resp.results.map((r) => ({ id: r.id, score: r.score, relevance: r.relevance, metadata: (r.metadata ?? {}) as Record<string, unknown>, text: r.text })),
    maxChars,
  );
}
