/**
 * Span offsets in feedback.proto are Unicode code points into the answer; the DOM selection gives
 * UTF-16 offsets. An emoji or a CJK extension character is 2 UTF-16 units but 1 code point, so the
 * two differ as soon as the answer holds one.
 */
export function utf16ToCodePoint(text: string, utf16Offset: number): number {
  return Array.from(text.slice(0, utf16Offset)).length;
}

export function codePointSlice(text: string, start: number, end: number): string {
  return Array.from(text).slice(start, end).join('');
}

/** The selection inside `container` (whose text is `text`) as code points, or null if none / outside. */
export function selectionInside(container: Element, text: string): { start: number; end: number } | null {
  const sel = window.getSelection();
  if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
  const range = sel.getRangeAt(0);
  if (!container.contains(range.startContainer) || !container.contains(range.endContainer)) return null;
  const offsetOf = (node: Node, offset: number): number => {
    const pre = document.createRange();
    pre.selectNodeContents(container);
    pre.setEnd(node, offset);
    return pre.toString().length;
  };
  const a = offsetOf(range.startContainer, range.startOffset);
  const b = offsetOf(range.endContainer, range.endOffset);
  const start = utf16ToCodePoint(text, Math.min(a, b));
  const end = utf16ToCodePoint(text, Math.max(a, b));
  return end > start ? { start, end } : null;
}
