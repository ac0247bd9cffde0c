import { apiJson, describeError } from './api.js';
import { h, notice } from './dom.js';
import { feedbackTools, type FeedbackTools } from './feedback-tools.js';

interface ReviewItem {
  response: {
    responseId: string;
    model?: string;
    answer?: string;
    createdAt?: string;
    messages?: Array<{ role?: string; content?: Array<{ text?: string; image?: unknown }> }>;
    confidence?: { meanLogprob?: number; lowConfidenceTokens?: number; tokenCount?: number };
  };
  reasons?: string[];
  priority?: number;
  feedbackCount?: number;
}

const REASON_TEXT: Record<string, string> = {
  REVIEW_REASON_LOW_CONFIDENCE: 'low confidence',
  REVIEW_REASON_THUMBS_DOWN: 'thumbs down',
  REVIEW_REASON_AI_FLAGGED: 'flagged by an AI judge',
  REVIEW_REASON_DISAGREEMENT: 'annotators disagree',
};

const SHORTCUTS: Array<[string, string]> = [
  ['j / →', 'next item'],
  ['k / ←', 'previous item'],
  ['u', 'thumbs up'],
  ['d', 'thumbs down'],
  ['c', 'correct the selected text'],
  ['r', 'reload the queue'],
];

/**
 * The feedback service's review queue (uncertainty-ranked: low confidence, thumbs down, AI flags,
 * disagreement), one response at a time, with single-key shortcuts for the common actions.
 */
export function reviewView(): { el: HTMLElement; activate: () => void } {
  const body = h('div', { class: 'review-item', 'aria-live': 'polite' });
  const position = h('p', { class: 'position', 'data-testid': 'review-position' });
  let items: ReviewItem[] = [];
  let index = 0;
  let tools: FeedbackTools | null = null;

  async function load(): Promise<void> {
    body.replaceChildren(notice('info', 'Loading the review queue…'));
    try {
      const page = await apiJson<{ items?: ReviewItem[] }>('/v1/tessera/review-queue?page_size=50');
      items = page.items ?? [];
      index = 0;
      show();
    } catch (err) {
      body.replaceChildren(notice('error', `Cannot load the review queue: ${describeError(err)}`));
    }
  }

  function show(): void {
    tools = null;
    if (!items.length) {
      position.textContent = '';
      body.replaceChildren(notice('info', 'Nothing to review: the queue is empty for this tenant.'));
      return;
    }
    const item = items[index]!;
    const r = item.response;
    position.textContent = `Item ${index + 1} of ${items.length}`;
    const question = (r.messages ?? [])
      .filter((m) => m.role === 'ROLE_USER')
      .flatMap((m) => m.content ?? [])
      .map((c) => c.text ?? (c.image ? '[image]' : ''))
      .join(' ');
    const answer = r.answer ?? '';
    const answerEl = h('div', { class: 'answer-text', 'data-testid': 'review-answer' }, answer);
    tools = feedbackTools(r.responseId, answer, answerEl);
    body.replaceChildren(
      h(
        'article',
        { class: 'answer', 'aria-label': `Response ${r.responseId}` },
        h('div', { class: 'answer-head' }, h('span', { class: 'who' }, `Priority ${(item.priority ?? 0).toFixed(2)}`), h('span', { class: 'rid' }, r.responseId)),
        h('p', { class: 'reasons' }, 'Why: ', (item.reasons ?? []).map((x) => REASON_TEXT[x] ?? x).join(', ') || '—', ` · ${item.feedbackCount ?? 0} feedback so far`),
        h('p', {}, h('strong', {}, 'Question: '), question || '(none)'),
        h('h4', {}, 'Answer'),
        answerEl,
        tools.el,
      ),
    );
  }

  const move = (d: number) => {
    if (!items.length) return;
    index = Math.min(items.length - 1, Math.max(0, index + d));
    show();
  };

  const prev = h('button', { type: 'button', onclick: () => move(-1) }, '← Previous');
  const next = h('button', { type: 'button', onclick: () => move(1) }, 'Next →');
  const reload = h('button', { type: 'button', onclick: () => void load() }, 'Reload');
  const el = h(
    'section',
    { class: 'view', 'aria-labelledby': 'review-h' },
    h('h2', { id: 'review-h' }, 'Review queue'),
    h('div', { class: 'row' }, prev, next, reload, position),
    h('details', { class: 'shortcuts' }, h('summary', {}, 'Keyboard shortcuts'), h('dl', {}, ...SHORTCUTS.flatMap(([k, v]) => [h('dt', {}, h('kbd', {}, k)), h('dd', {}, v)]))),
    body,
  );

  document.addEventListener('keydown', (ev) => {
    // isConnected: after sign-out and back in, the old view's listener must not act twice.
    if (!el.isConnected || el.hidden || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target as HTMLElement;
    if (t.closest('input, textarea, select, [contenteditable="true"]')) return;
    const actions: Record<string, () => void> = {
      j: () => move(1),
      ArrowRight: () => move(1),
      k: () => move(-1),
      ArrowLeft: () => move(-1),
      u: () => void tools?.thumbs('up'),
      d: () => void tools?.thumbs('down'),
      c: () => tools?.startCorrection(),
      r: () => void load(),
    };
    const fn = actions[ev.key];
    if (fn) {
      ev.preventDefault();
      fn();
    }
  });

  return { el, activate: () => void load() };
}
