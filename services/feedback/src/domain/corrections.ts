import { codePointLength, TextOffsets } from './offsets.js';
import type { SpanCorrection } from './types.js';

/** Where one correction sits in the original (rejected) and the corrected (chosen) answer, in code points. */
export interface AlignedSpan {
  category: string;
  rejected: { start: number; end: number };
  chosen: { start: number; end: number };
}

/**
 * Applies sorted, non-overlapping span corrections to the answer and reports where each edit lands
 * in both texts: exactly what dense DPO needs to up-weight corrected tokens (γ = 5 in RLHF-V) on
 * both sides without the lossy token diff the RLAIF-V trainer uses.
 */
export function applySpans(answer: string, spans: readonly SpanCorrection[]): { text: string; aligned: AlignedSpan[] } {
  const src = new TextOffsets(answer);
  let out = '';
  let outLen = 0; // code points written so far
  let cursor = 0;
  const aligned: AlignedSpan[] = [];
  for (const s of spans) {
    const keep = src.slice(cursor, s.start);
    out += keep;
    outLen += s.start - cursor;
    const replLen = codePointLength(s.replacement);
    aligned.push({ category: s.category, rejected: { start: s.start, end: s.end }, chosen: { start: outLen, end: outLen + replLen } });
    out += s.replacement;
    outLen += replLen;
    cursor = s.end;
  }
  out += src.slice(cursor, src.length);
  return { text: out, aligned };
}
