/**
 * Document formats accepted for ingestion: plain text, Markdown (kept as written: its blank lines
 * already separate headings from paragraphs, and the markup carries meaning for readers of the
 * sources), and HTML (reduced to text: script/style/head dropped, block elements become line
 * breaks, entities decoded). HTML is recognised from `format` metadata or by sniffing.
 */
export type DocumentFormat = 'text' | 'markdown' | 'html';

export function detectFormat(text: string, hint?: unknown, fileName?: string): DocumentFormat {
  if (hint === 'text' || hint === 'markdown' || hint === 'html') return hint;
  const ext = fileName?.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (ext === 'html' || ext === 'htm') return 'html';
  if (ext === 'md' || ext === 'markdown') return 'markdown';
  if (ext === 'txt') return 'text';
  return /^\s*(<!doctype html|<html[\s>])/i.test(text) ? 'html' : 'text';
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', mdash: '—', ndash: '–', hellip: '…', copy: '©' };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return NAMED[e.toLowerCase()] ?? m;
  });
}

export interface HtmlText {
  text: string;
  title?: string;
}

export function htmlToText(html: string): HtmlText {
  const title = html.match(/<title[^>]*>([\s\S]*?)<\/title>/i)?.[1];
  const text = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style|head|noscript|template)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/?(p|div|section|article|header|footer|main|nav|aside|h[1-6]|li|ul|ol|tr|table|blockquote|pre|dt|dd|figure|figcaption)\b[^>]*>/gi, '\n\n')
    .replace(/<\/?(td|th)\b[^>]*>/gi, ' ')
    .replace(/<[^>]+>/g, '');
  const cleaned = decodeEntities(text)
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return { text: cleaned, ...(title !== undefined && { title: decodeEntities(title).trim() }) };
}

/** Text to split, plus metadata the format yields (format, and title for HTML). */
export function documentText(raw: string, format: DocumentFormat): { text: string; metadata: Record<string, string> } {
  if (format === 'html') {
    const { text, title } = htmlToText(raw);
    return { text, metadata: { format, ...(title ? { title } : {}) } };
  }
  return { text: raw, metadata: { format } };
}
