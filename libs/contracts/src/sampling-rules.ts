/**
 * Sampling fields that keep an answer from ending where the model ends it: vLLM's `ignore_eos` and
 * `min_tokens` (common.proto SamplingParams). A constrained answer (response_format, a forced tool
 * call) ends exactly when its document is complete and past it the constraint allows nothing but the
 * end, so neither combines with one. The gateway refuses this at the HTTP edge and the decoder for
 * gRPC callers, with the one message below (it had been written in both).
 */
export interface EndHoldingFields {
  ignoreEos?: boolean | undefined;
  minTokens?: number | undefined;
}

/** The refusal of an end-holding field next to constrained output, or undefined when none is set. */
export function endHoldingConflict(s: EndHoldingFields | undefined): { field: 'ignore_eos' | 'min_tokens'; message: string } | undefined {
  const field = s?.ignoreEos ? 'ignore_eos' : s?.minTokens ? 'min_tokens' : undefined;
  if (!field) return undefined;
  return { field, message: `${field} cannot be combined with constrained output (response_format, or tool_choice "required" / a named function): a constrained answer ends with its document` };
}
