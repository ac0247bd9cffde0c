/**
 * Per-token confidence → the summary stored with each response, which feedback uses to rank the
 * review queue. A token is "low confidence" below p = 0.5 (logprob < ln 0.5 ≈ -0.69): with random
 * weights almost every token is, with a trained model typically 5–15 % of tokens are.
 * The logprobs are the model's RAW distribution (decoder `confidence`: no temperature, penalties or bias)
 * unless the client asked for `logprobs`, whose tempered values are then used (the record's sampling says
 * which: `confidence` set = raw). p = 0.5 is meant as the model's own probability, so it stays; before, at
 * 2.6's chat default temperature 0.7, it sat at a raw p of 0.24–0.38 for a top token with 50–5 equal
 * alternatives (docs/decisions.md, "Confidence without logprobs").
 */
export const LOW_CONFIDENCE_LOGPROB = Math.log(0.5);

export interface TokenConfidence {
  /** Decoded text of the token (may be '' for a partial UTF-8 character). */
  text: string;
  logprob: number;
}

export interface ConfidenceSummary {
  tokenCount: number;
  meanLogprob: number;
  minLogprob: number;
  lowConfidenceTokens: number;
  /** Runs of low-confidence tokens as [start, end) Unicode code points into the answer. */
  spans: Array<{ start: number; end: number; meanLogprob: number }>;
}

export function summarizeConfidence(tokens: TokenConfidence[]): ConfidenceSummary {
  const spans: ConfidenceSummary['spans'] = [];
  let pos = 0;
  let sum = 0;
  let min = 0;
  let low = 0;
  let open: { start: number; end: number; sum: number; n: number } | undefined;
  for (const t of tokens) {
    const len = [...t.text].length;
    sum += t.logprob;
    min = Math.min(min, t.logprob);
    if (t.logprob < LOW_CONFIDENCE_LOGPROB) {
      low++;
      open ??= { start: pos, end: pos, sum: 0, n: 0 };
      open.end = pos + len;
      open.sum += t.logprob;
      open.n++;
    } else if (open) {
      spans.push({ start: open.start, end: open.end, meanLogprob: open.sum / open.n });
      open = undefined;
    }
    pos += len;
  }
  if (open) spans.push({ start: open.start, end: open.end, meanLogprob: open.sum / open.n });
  return { tokenCount: tokens.length, meanLogprob: tokens.length ? sum / tokens.length : 0, minLogprob: min, lowConfidenceTokens: low, spans: spans.filter((s) => s.end > s.start) };
}
