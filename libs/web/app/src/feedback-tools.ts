import { describeError } from './api.js';
import { codePointSlice, selectionInside } from './code-points.js';
import { field, h, nextId, notice } from './dom.js';
import { CATEGORIES, submitFeedback, type SpanInput } from './feedback-api.js';

export interface FeedbackTools {
  el: HTMLElement;
  thumbs(dir: 'up' | 'down'): Promise<void>;
  /** Opens the correction form for the current selection in the answer. */
  startCorrection(): void;
}

/** Paints the answer with the pending corrections marked, so the annotator sees what is covered. */
function paint(answerEl: HTMLElement, answer: string, spans: SpanInput[]): void {
  const chars = Array.from(answer);
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const parts: (string | HTMLElement)[] = [];
  let at = 0;
  for (const s of sorted) {
    parts.push(chars.slice(at, s.start).join(''));
    parts.push(h('mark', { title: `${s.category}: → ${s.replacement || '(delete)'}` }, chars.slice(s.start, s.end).join('')));
    at = s.end;
  }
  parts.push(chars.slice(at).join(''));
  answerEl.replaceChildren(...parts);
}

/**
 * Rating, score and span corrections for one answer. Every save is one FeedbackService.SubmitFeedback
 * call through the gateway, so what is saved is exactly what the feedback service exports.
 */
export function feedbackTools(responseId: string, answer: string, answerEl: HTMLElement): FeedbackTools {
  const status = h('div', { class: 'status', 'aria-live': 'polite' });
  const say = (el: HTMLElement) => status.replaceChildren(el);
  const pending: SpanInput[] = [];

  const up = h('button', { type: 'button', class: 'thumb', 'aria-pressed': 'false', 'data-testid': 'thumbs-up' }, h('span', { 'aria-hidden': 'true' }, '✓ '), 'Good');
  const down = h('button', { type: 'button', class: 'thumb', 'aria-pressed': 'false', 'data-testid': 'thumbs-down' }, h('span', { 'aria-hidden': 'true' }, '✗ '), 'Bad');
  const thumbs = async (dir: 'up' | 'down') => {
    try {
      await submitFeedback({ responseId, rating: { key: 'overall', thumbs: dir === 'up' ? 'THUMBS_UP' : 'THUMBS_DOWN' } });
      up.setAttribute('aria-pressed', String(dir === 'up'));
      down.setAttribute('aria-pressed', String(dir === 'down'));
      say(notice('ok', `Saved: thumbs ${dir}.`));
    } catch (err) {
      say(notice('error', `Could not save the rating: ${describeError(err)}`));
    }
  };
  up.addEventListener('click', () => void thumbs('up'));
  down.addEventListener('click', () => void thumbs('down'));

  const score = h('select', { 'data-testid': 'score' }, ...[5, 4, 3, 2, 1].map((n) => h('option', { value: n }, `${n} / 5`)));
  const saveScore = h('button', { type: 'button' }, 'Save score');
  saveScore.addEventListener('click', async () => {
    const stars = Number(score.value);
    try {
      // feedback.proto: scores are normalised to [0, 1]; 1..5 stars map as (stars - 1) / 4.
      await submitFeedback({ responseId, rating: { key: 'overall', score: (stars - 1) / 4 } });
      say(notice('ok', `Saved: score ${stars} / 5.`));
    } catch (err) {
      say(notice('error', `Could not save the score: ${describeError(err)}`));
    }
  });

  const list = h('ul', { class: 'corrections', 'aria-label': 'Corrections not saved yet' });
  const saveAll = h('button', { type: 'button', class: 'primary', disabled: true, 'data-testid': 'save-corrections' }, 'Save corrections');
  const formSlot = h('div');
  const refresh = () => {
    list.replaceChildren(
      ...pending.map((s, i) =>
        h(
          'li',
          {},
          h('span', {}, `“${s.original}” → “${s.replacement || '(delete)'}” [${s.category}]`),
          h('button', { type: 'button', class: 'link', 'aria-label': `Remove correction ${i + 1}`, onclick: () => (pending.splice(i, 1), refresh()) }, 'Remove'),
        ),
      ),
    );
    saveAll.disabled = pending.length === 0;
    saveAll.textContent = pending.length ? `Save ${pending.length} correction${pending.length > 1 ? 's' : ''}` : 'Save corrections';
    paint(answerEl, answer, pending);
  };

  const startCorrection = () => {
    const sel = selectionInside(answerEl, answer);
    if (!sel) {
      say(notice('info', 'First select the wrong words in the answer (drag across them), then press “Correct selection”.'));
      return;
    }
    if (pending.some((p) => sel.start < p.end && p.start < sel.end)) {
      say(notice('error', 'That selection overlaps a correction you already added; remove that one first.'));
      return;
    }
    const original = codePointSlice(answer, sel.start, sel.end);
    const replacement = h('input', { type: 'text', autocomplete: 'off', 'data-testid': 'replacement' });
    replacement.value = original;
    const category = h('select', { 'data-testid': 'category' }, ...CATEGORIES.map((c) => h('option', { value: c.value }, c.label)));
    const form = h(
      'form',
      { class: 'correction-form', 'aria-label': 'Correct the selected text' },
      h('p', {}, 'Selected: ', h('q', { 'data-testid': 'selected-text' }, original), ` (characters ${sel.start}–${sel.end})`),
      field('Replace with (empty deletes it)', replacement),
      field('What kind of mistake', category),
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'add-correction' }, 'Add correction'), h('button', { type: 'button', onclick: () => formSlot.replaceChildren() }, 'Cancel')),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      pending.push({ start: sel.start, end: sel.end, original, replacement: replacement.value, category: category.value });
      formSlot.replaceChildren();
      refresh();
      say(notice('info', `${pending.length} correction${pending.length > 1 ? 's' : ''} ready; add more or save.`));
      saveAll.focus();
    });
    formSlot.replaceChildren(form);
    replacement.focus();
    replacement.select();
  };

  saveAll.addEventListener('click', async () => {
    saveAll.disabled = true;
    try {
      const record = await submitFeedback({ responseId, spans: [...pending].sort((a, b) => a.start - b.start) });
      const n = pending.length;
      pending.length = 0;
      refresh();
      say(h('div', {}, notice('ok', `Saved ${n} correction${n > 1 ? 's' : ''}.`), h('p', { class: 'corrected' }, h('strong', {}, 'Corrected answer: '), h('span', { 'data-testid': 'corrected-answer' }, record.correctedAnswer ?? ''))));
    } catch (err) {
      saveAll.disabled = false;
      say(notice('error', `Could not save the corrections: ${describeError(err)}`));
    }
  });

  const legend = nextId('fb');
  const el = h(
    'section',
    { class: 'feedback', 'aria-labelledby': legend },
    h('h4', { id: legend }, 'Feedback'),
    h('div', { class: 'row' }, up, down, field('Score', score), saveScore),
    h('div', { class: 'row' }, h('button', { type: 'button', 'data-testid': 'correct-selection', onclick: startCorrection }, 'Correct selection'), h('small', { class: 'hint' }, 'Select words in the answer first.')),
    formSlot,
    list,
    h('div', { class: 'row' }, saveAll),
    status,
  );
  return { el, thumbs, startCorrection };
}
