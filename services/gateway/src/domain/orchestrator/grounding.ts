import type { ChatSource } from '../chat-events.js';

/**
 * How retrieved passages enter the prompt: a system message with numbered sources and an explicit
 * instruction to say "I don't know" when they do not contain the answer (grounded answers must not
 * fall back on the model's memory, or citations stop meaning anything).
 */
export const GROUNDING_INSTRUCTION =
  'Answer the question using only the numbered sources below. Cite the sources you use as [1], [2], …. ' +
  'If the sources do not contain the answer, reply exactly "I don\'t know".';

export function groundingMessage(sources: ChatSource[]): string {
  const blocks = sources.map((s, i) => `[${i + 1}] ${s.text.trim()}`);
  return `${GROUNDING_INSTRUCTION}\n\nSources:\n${blocks.length ? blocks.join('\n\n') : '(no sources matched)'}`;
}

/**
 * Retrieval rejects query texts over 4096 code points (TESSERA_RETRIEVAL_MAX_QUERY_CHARS); a long
 * user message (a pasted document + a question) is searched with its end, where the question is.
 */
const MAX_QUERY_CODE_POINTS = 2000;

/** The last user message's text (its last 2000 code points): what the collection is searched with. */
export function retrievalQuery(messages: Array<{ role: string; parts: Array<{ kind: string; text?: string }> }>): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== 'user') continue;
    const text = m.parts.flatMap((p) => (p.kind === 'text' && p.text ? [p.text] : [])).join('\n').trim();
    if (!text) continue;
    const cps = Array.from(text);
    return cps.length > MAX_QUERY_CODE_POINTS ? cps.slice(-MAX_QUERY_CODE_POINTS).join('').trim() : text;
  }
  return '';
}
