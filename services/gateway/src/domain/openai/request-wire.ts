import type { commonV1 } from '@tessera/contracts';
import type { ValidChatRequest, ValidSampling } from './valid-request.js';

/**
 * The validated sampling fields as `tessera.common.v1.SamplingParams`: one mapping for the decoder
 * call (chat-orchestrator.ts) and the edge uplink (adapters/edge/hub-chat.ts). Written twice, a field
 * added to one path was missed on the other (the logit_bias / ignore_eos / stop_token_ids round).
 */
export function samplingToWire(s: ValidSampling): commonV1.SamplingParams {
  return {
    temperature: s.temperature,
    topK: s.topK,
    topP: s.topP,
    minP: s.minP,
    repetitionPenalty: s.repetitionPenalty,
    presencePenalty: s.presencePenalty,
    frequencyPenalty: s.frequencyPenalty,
    ...(s.seed !== undefined && { seed: s.seed }),
    stop: s.stop,
    stopTokenIds: s.stopTokenIds ?? [],
    maxTokens: s.maxTokens,
    logprobs: s.logprobs,
    topLogprobs: s.topLogprobs,
    ...(s.logitBias && { logitBias: { bias: s.logitBias } }),
    ...(s.ignoreEos && { ignoreEos: true }),
    ...(s.minTokens && { minTokens: s.minTokens }),
  };
}

/** The chat ending as the wire's add_generation_prompt / continue_final_message (decoding.v1 and gateway.v1 alike); none = the default. */
export function chatEndingToWire(ending: ValidChatRequest['ending']): { addGenerationPrompt?: boolean; continueFinalMessage?: boolean } {
  if (ending === 'continue-final') return { addGenerationPrompt: false, continueFinalMessage: true };
  return ending === 'closed' ? { addGenerationPrompt: false } : {};
}
