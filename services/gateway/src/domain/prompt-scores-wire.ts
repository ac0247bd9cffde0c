import type { commonV1 } from '@tessera/contracts';
import type { PromptScores } from './chat-events.js';

/**
 * `tessera.common.v1.PromptLogprobs` → PromptScores: the decoder's first chunk (orchestrator) and the hub's
 * (edge uplink). The wire's first entry carries logprob 0 for "none" (common.proto); here it is null.
 */
export function promptScoresFromWire(p: commonV1.PromptLogprobs): PromptScores {
  return {
    text: p.text,
    tokens: p.tokens.map((t, i) => ({
      tokenId: t.tokenId,
      token: t.token,
      logprob: i === 0 ? null : t.logprob,
      rank: i === 0 ? null : (t.rank ?? null),
      top: t.topLogprobs.map((x) => ({ tokenId: x.tokenId, token: x.token, logprob: x.logprob })),
    })),
  };
}

/** PromptScores → `tessera.common.v1.PromptLogprobs`: the gRPC edge and the uplink's answers. */
export function promptScoresToWire(p: PromptScores): commonV1.PromptLogprobs {
  return {
    text: p.text,
    tokens: p.tokens.map((t) => ({ tokenId: t.tokenId, token: t.token, logprob: t.logprob ?? 0, topLogprobs: t.top, ...(t.rank !== null && { rank: t.rank }) })),
  };
}
