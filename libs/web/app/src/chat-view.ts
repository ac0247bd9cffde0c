import { apiJson, describeError, type ApiError } from './api.js';
import { streamChat, type ChatResult } from './chat-stream.js';
import { field, formatMs, h, notice } from './dom.js';
import { submitFeedback } from './feedback-api.js';
import { feedbackTools } from './feedback-tools.js';
import { fetchSlicePlan, renderSlicePlan } from './slice-view.js';

/** The gateway's default image cap (TESSERA_GATEWAY_MAX_IMAGE_BYTES); checked here only to fail fast. */
const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
const MAX_IMAGES = 8;

interface Attachment {
  name: string;
  dataUrl: string;
  ok: boolean;
  /** The image and its row in the attachment list: the slice view is re-planned when the token mode changes. */
  file: Blob;
  item: HTMLElement;
}

type Message = { role: 'user' | 'assistant'; content: string | Array<Record<string, unknown>> };

const readDataUrl = (file: Blob): Promise<string> =>
  new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error ?? new Error('cannot read the file'));
    r.readAsDataURL(file);
  });

export function chatView(): HTMLElement {
  const model = h('select', { required: true, 'data-testid': 'model' });
  // Token mode (MiniCPM-V 4.6): shown only for a model whose /v1/models entry lists downsample_modes.
  const mode = h('select', { 'data-testid': 'downsample-mode' });
  const modeField = field('Visual tokens', mode, '16x: 64 per 448² crop; 4x: 256 (finer detail, slower)');
  const modesOf = new Map<string, string[]>();
  const showModes = (): void => {
    const modes = modesOf.get(model.value) ?? [];
    mode.replaceChildren(...modes.map((m) => h('option', { value: m }, m)));
    modeField.hidden = modes.length === 0;
  };
  model.addEventListener('change', () => {
    showModes();
    void replanAll();
  });
  // A 4.6 image costs 4× the visual tokens in 4x mode: the slice views must show the mode the request will use.
  mode.addEventListener('change', () => void replanAll());
  const collection = h('input', { type: 'text', autocomplete: 'off', pattern: '[A-Za-z0-9_.\\-]{1,128}', 'data-testid': 'collection' });
  const k = h('input', { type: 'number', min: 1, max: 50, value: 4, inputmode: 'numeric' });
  const maxTokens = h('input', { type: 'number', min: 1, max: 4096, value: 64, inputmode: 'numeric' });
  const question = h('textarea', { rows: 3, required: true, 'data-testid': 'question' });
  const files = h('input', { type: 'file', accept: 'image/*', multiple: true, 'data-testid': 'files' });
  const attachArea = h('div', { class: 'attachments', 'aria-live': 'polite' });
  const send = h('button', { type: 'submit', class: 'primary', 'data-testid': 'send' }, 'Send');
  const stop = h('button', { type: 'button', disabled: true, 'data-testid': 'stop' }, 'Stop');
  const reset = h('button', { type: 'button', class: 'link' }, 'New conversation');
  const formStatus = h('div', { 'aria-live': 'assertive' });
  const transcript = h('ol', { class: 'transcript', 'aria-label': 'Conversation' });

  let attachments: Attachment[] = [];
  let history: Message[] = [];
  let controller: AbortController | null = null;

  apiJson<{ data: Array<{ id: string; family?: string; downsample_modes?: string[] }> }>('/v1/models')
    .then((m) => {
      for (const x of m.data) modesOf.set(x.id, x.downsample_modes ?? []);
      model.replaceChildren(...m.data.map((x) => h('option', { value: x.id }, x.family ? `${x.id} (MiniCPM-V ${x.family})` : x.id)));
      showModes();
    })
    .catch((err) => formStatus.replaceChildren(notice('error', `Cannot list models: ${describeError(err)}`)));

  async function addFiles(list: Iterable<File>): Promise<void> {
    for (const file of list) {
      const item = h('div', { class: 'attachment' }, h('p', {}, `Reading ${file.name || 'pasted image'}…`));
      attachArea.append(item);
      const name = file.name || `pasted-image-${attachments.length + 1}.${(file.type.split('/')[1] ?? 'png').replace('jpeg', 'jpg')}`;
      const remove = (a?: Attachment) =>
        h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${name}`, onclick: () => (item.remove(), a && (attachments = attachments.filter((x) => x !== a))) }, 'Remove');
      if (!file.type.startsWith('image/')) {
        item.replaceChildren(notice('error', `${name} is not an image (${file.type || 'unknown type'}); attach PNG, JPEG, WebP, GIF or TIFF files.`), remove());
        continue;
      }
      if (file.size > MAX_IMAGE_BYTES) {
        item.replaceChildren(notice('error', `${name} is ${(file.size / 1048576).toFixed(1)} MiB; the limit is ${MAX_IMAGE_BYTES / 1048576} MiB per image.`), remove());
        continue;
      }
      if (attachments.length >= MAX_IMAGES) {
        item.replaceChildren(notice('error', `${name}: at most ${MAX_IMAGES} images per message.`), remove());
        continue;
      }
      try {
        const [dataUrl, plan] = await Promise.all([readDataUrl(file), fetchSlicePlan(file, undefined, modeField.hidden ? undefined : mode.value)]);
        const a: Attachment = { name, dataUrl, ok: true, file, item };
        attachments.push(a);
        item.replaceChildren(await renderSlicePlan(dataUrl, plan, name), remove(a));
      } catch (err) {
        item.replaceChildren(notice('error', `${name} cannot be used: ${describeError(err)}`), remove());
      }
    }
  }

  /** Re-plans every attached image for the selected model's token mode (the slice view shows mode and tokens). */
  async function replanAll(): Promise<void> {
    const chosen = modeField.hidden ? undefined : mode.value;
    await Promise.all(
      attachments.map(async (a) => {
        const view = a.item.querySelector('[data-testid="slice-view"]');
        try {
          const next = await renderSlicePlan(a.dataUrl, await fetchSlicePlan(a.file, undefined, chosen), a.name);
          if (view) view.replaceWith(next);
        } catch (err) {
          view?.replaceWith(notice('error', `${a.name} cannot be re-planned: ${describeError(err)}`));
        }
      }),
    );
  }

  files.addEventListener('change', () => {
    void addFiles(Array.from(files.files ?? [])).then(() => (files.value = ''));
  });
  question.addEventListener('paste', (ev: ClipboardEvent) => {
    const images = Array.from(ev.clipboardData?.files ?? []);
    if (images.length) {
      ev.preventDefault();
      void addFiles(images);
    }
  });
  question.addEventListener('keydown', (ev: KeyboardEvent) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  stop.addEventListener('click', () => controller?.abort());
  reset.addEventListener('click', () => {
    controller?.abort();
    history = [];
    transcript.replaceChildren();
    question.focus();
  });

  function requestBody(messages: Message[], seed?: number): Record<string, unknown> {
    const name = collection.value.trim();
    return {
      model: model.value,
      messages,
      max_tokens: Number(maxTokens.value) || 64,
      ...(seed !== undefined && { seed }),
      ...(name && { collection: { name, k: Number(k.value) || 4 } }),
      ...(!modeField.hidden && mode.value && { mm_processor_kwargs: { downsample_mode: mode.value } }),
    };
  }

  /** Streams one answer into a new card; returns the result (or null on error / nothing). */
  async function answerInto(card: HTMLElement, messages: Message[], seed?: number, label = 'Assistant'): Promise<ChatResult | null> {
    const text = h('div', { class: 'answer-text', 'aria-live': 'polite', 'aria-busy': 'true', 'data-testid': 'answer-text' });
    const meta = h('div', { class: 'answer-meta' });
    const tools = h('div');
    card.replaceChildren(h('div', { class: 'answer-head' }, h('span', { class: 'who' }, label), h('span', { class: 'rid', 'data-testid': 'response-id' })), text, meta, tools);
    controller = new AbortController();
    stop.disabled = false;
    send.disabled = true;
    try {
      const result = await streamChat(requestBody(messages, seed), controller.signal, (delta, rid) => {
        text.append(delta);
        (card.querySelector('.rid') as HTMLElement).textContent = rid;
      });
      text.textContent = result.text;
      (card.querySelector('.rid') as HTMLElement).textContent = result.responseId;
      if (result.stopped) meta.append(notice('info', 'Stopped. The gateway cancelled the generation.'));
      if (!result.text && !result.stopped) meta.append(notice('info', 'The model returned an empty answer.'));
      renderMeta(meta, result);
      if (result.responseId && result.text && !result.stopped) {
        card.dataset.responseId = result.responseId;
        tools.append(feedbackTools(result.responseId, result.text, text).el);
      }
      return result;
    } catch (err) {
      const partial = (err as ApiError & { partial?: ChatResult }).partial;
      if (partial?.text) text.textContent = partial.text;
      meta.append(notice('error', describeError(err)));
      return null;
    } finally {
      text.setAttribute('aria-busy', 'false');
      controller = null;
      stop.disabled = true;
      send.disabled = false;
    }
  }

  function compareButton(card: HTMLElement, messages: Message[], first: ChatResult): HTMLElement {
    const btn = h('button', { type: 'button', 'data-testid': 'compare' }, 'Compare with another answer');
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      const a = h('article', { class: 'answer' });
      a.append(h('div', { class: 'answer-head' }, h('span', { class: 'who' }, 'Answer A'), h('span', { class: 'rid' }, first.responseId)), h('div', { class: 'answer-text' }, first.text));
      const b = h('article', { class: 'answer', 'data-testid': 'answer-b' });
      const pick = h('div', { class: 'row', role: 'group', 'aria-label': 'Which answer is better?' });
      const status = h('div', { 'aria-live': 'polite' });
      const box = h('section', { class: 'compare', 'aria-label': 'Compare two answers' }, h('div', { class: 'side-by-side' }, a, b), pick, status);
      card.after(box);
      // A new seed gives a different sample to the same prompt (a preference needs the same prompt).
      const second = await answerInto(b, messages, Math.floor(Math.random() * 2 ** 31), 'Answer B');
      if (!second?.responseId) return void (btn.disabled = false);
      const choose = async (chosen: string, rejected: string, label: string) => {
        try {
          await submitFeedback({ responseId: chosen, preference: { chosenResponseId: chosen, rejectedResponseId: rejected } });
          status.replaceChildren(notice('ok', `Saved: ${label} is better.`));
        } catch (err) {
          status.replaceChildren(notice('error', `Could not save the preference: ${describeError(err)}`));
        }
      };
      pick.replaceChildren(
        h('button', { type: 'button', class: 'primary', 'data-testid': 'prefer-a', onclick: () => void choose(first.responseId, second.responseId, 'A') }, 'A is better'),
        h('button', { type: 'button', class: 'primary', 'data-testid': 'prefer-b', onclick: () => void choose(second.responseId, first.responseId, 'B') }, 'B is better'),
      );
    });
    return btn;
  }

  const form = h(
    'form',
    { class: 'chat-form', 'aria-label': 'Ask a question' },
    h(
      'div',
      { class: 'grid' },
      field('Model', model),
      field('Collection (optional)', collection, 'Ground the answer in a retrieval collection'),
      field('Passages (k)', k),
      field('Max tokens', maxTokens),
      modeField,
    ),
    field('Question', question, 'Enter sends, Shift+Enter adds a line; paste images here'),
    field('Images', files, 'One or several; each shows how it is sliced and its visual-token cost'),
    attachArea,
    h('div', { class: 'row' }, send, stop, reset),
    formStatus,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    formStatus.replaceChildren();
    const q = question.value.trim();
    if (!q) {
      formStatus.replaceChildren(notice('error', 'Type a question first.'));
      question.focus();
      return;
    }
    if (!model.value) {
      formStatus.replaceChildren(notice('error', 'No model to ask: the model list did not load.'));
      return;
    }
    const content: Array<Record<string, unknown>> = attachments.map((a) => ({ type: 'image_url', image_url: { url: a.dataUrl } }));
    content.push({ type: 'text', text: q });
    const user: Message = { role: 'user', content };
    const messages = [...history, user];
    const userItem = h(
      'li',
      { class: 'turn user' },
      h('div', { class: 'who' }, 'You'),
      h('p', {}, q),
      attachments.length ? h('div', { class: 'thumbs' }, ...attachments.map((a) => h('img', { src: a.dataUrl, alt: a.name, width: 96 }))) : null,
    );
    const card = h('article', { class: 'answer', 'data-testid': 'answer' });
    transcript.append(userItem, h('li', { class: 'turn assistant' }, card));
    question.value = '';
    attachments = [];
    attachArea.replaceChildren();
    const result = await answerInto(card, messages);
    if (result && result.text && !result.stopped) {
      history = [...messages, { role: 'assistant', content: result.text }];
      card.append(compareButton(card, messages, result));
    }
  });

  return h('section', { class: 'view', 'aria-labelledby': 'chat-h' }, h('h2', { id: 'chat-h' }, 'Chat'), form, transcript);
}

function renderMeta(meta: HTMLElement, r: ChatResult): void {
  if (r.sources.length) {
    meta.append(
      h(
        'section',
        { class: 'sources', 'aria-label': 'Sources' },
        h('h4', {}, 'Sources'),
        h('ol', {}, ...r.sources.map((s) => h('li', {}, h('strong', {}, s.id), ` (score ${s.score.toFixed(3)}): `, h('span', {}, s.text.length > 300 ? `${s.text.slice(0, 300)}…` : s.text)))),
      ),
    );
  }
  if (!r.usage && !r.timings) return;
  const rows: Array<[string, string]> = [];
  if (r.usage) {
    rows.push(['prompt tokens', String(r.usage.prompt_tokens)]);
    if (r.usage.prompt_tokens_details?.image_tokens !== undefined) rows.push(['of which visual tokens', String(r.usage.prompt_tokens_details.image_tokens)]);
    rows.push(['completion tokens', String(r.usage.completion_tokens)]);
  }
  if (r.finishReason) rows.push(['finish reason', r.finishReason]);
  for (const [key, v] of Object.entries(r.timings ?? {})) rows.push([key.replace(/_ms$/, '').replace(/_/g, ' '), key.endsWith('_ms') ? formatMs(v) : String(v)]);
  meta.append(
    h(
      'details',
      { class: 'timings' },
      h('summary', {}, 'Timings and tokens'),
      h('table', {}, h('tbody', {}, ...rows.map(([a, b]) => h('tr', {}, h('th', { scope: 'row' }, a), h('td', { 'data-testid': `stat-${a.replace(/ /g, '-')}` }, b))))),
    ),
  );
}
