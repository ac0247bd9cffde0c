import { api, describeError } from './api.js';
import { field, h, notice } from './dom.js';

const FORMATS: Array<[string, string]> = [
  ['sft', 'SFT: prompt + corrected answer'],
  ['spans_sidecar', 'Span sidecar: corrected spans with categories'],
  ['trl_dpo', 'TRL DPO (preference pairs)'],
  ['openai_dpo', 'OpenAI DPO'],
  ['rlaif_v', 'RLAIF-V'],
  ['kto', 'KTO (thumbs / scores)'],
];

/** Training rows exactly as FeedbackService.Export streams them (JSONL), for this tenant only. */
export function exportView(): HTMLElement {
  const format = h('select', { 'data-testid': 'export-format' }, ...FORMATS.map(([v, label]) => h('option', { value: v }, label)));
  const responseId = h('input', { type: 'text', autocomplete: 'off' });
  const run = h('button', { type: 'submit', class: 'primary', 'data-testid': 'run-export' }, 'Export');
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'row', 'aria-label': 'Export training data' }, field('Format', format), field('Only response id (optional)', responseId), run);
  let lastUrl = '';
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    out.replaceChildren(notice('info', 'Exporting…'));
    const q = new URLSearchParams({ format: format.value, max_rows: '1000' });
    if (responseId.value.trim()) q.set('response_id', responseId.value.trim());
    try {
      const text = await (await api(`/v1/tessera/export?${q}`)).text();
      const rows = text.split('\n').filter(Boolean);
      if (lastUrl) URL.revokeObjectURL(lastUrl);
      lastUrl = URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }));
      out.replaceChildren(
        notice('ok', `${rows.length} row${rows.length === 1 ? '' : 's'} (first 1000 at most).`),
        h('a', { href: lastUrl, download: `tessera-${format.value}.jsonl` }, 'Download JSONL'),
        h('pre', { class: 'export', tabindex: 0, 'aria-label': 'Exported rows', 'data-testid': 'export-rows' }, rows.map((r) => JSON.stringify(JSON.parse(r), null, 1)).join('\n\n')),
      );
    } catch (err) {
      out.replaceChildren(notice('error', `Export failed: ${describeError(err)}`));
    }
  });
  return h('section', { class: 'view', 'aria-labelledby': 'export-h' }, h('h2', { id: 'export-h' }, 'Export'), form, out);
}
