/**
 * Grounded-chat support: retrieved chunks rendered as a numbered context block plus the
 * instruction that tells the model to answer only from it and to say it does not know otherwise.
 * The gateway puts `instruction` + `context` in the system message and cites `[n]` back to
 * `sources[n-1]`.
 */
export const GROUNDING_INSTRUCTION =
  'Answer the question using only the numbered context passages below. Cite the passages you use as [1], [2], … ' +
  'If the context does not contain the answer, say "I don\'t know" and do not make up an answer.';

export interface ContextSource {
  /** 1-based number used in the context block. */
  n: number;
  id: string;
  score: number;
  relevance: number;
  metadata: Record<string, unknown>;
  text: string;
}

export interface ContextBlock {
  instruction: string;
  context: string;
  /** instruction + context, ready to be a system message. */
  systemPrompt: string;
  sources: ContextSource[];
}

/** Renders sources until `maxChars` code units of context (whole passages only; ≥ 1 passage). */
export function formatContext(sources: readonly Omit<ContextSource, 'n'>[], maxChars = 12_000): ContextBlock {
  const kept: ContextSource[] = [];
  const parts: string[] = [];
  let used = 0;
  for (const s of sources) {
    const title = typeof s.metadata.title === 'string' ? s.metadata.title : typeof s.metadata.document_id === 'string' ? s.metadata.document_id : s.id;
    const part = `[${kept.length + 1}] (${title})\n${s.text}`;
    if (kept.length > 0 && used + part.length > maxChars) break;
    kept.push({ ...s, n: kept.length + 1 });
    parts.push(part);
    used += part.length + 2;
  }
  const context = parts.length > 0 ? parts.join('\n\n') : '(no relevant passages were found)';
  return { instruction: GROUNDING_INSTRUCTION, context, systemPrompt: `${GROUNDING_INSTRUCTION}\n\nContext:\n${context}`, sources: kept };
}
