import './styles.css';
import { describeError, errorFrom, session, setUnauthorizedHandler } from './api.js';
import { chatView } from './chat-view.js';
import { field, h, notice } from './dom.js';
import { exportView } from './export-view.js';
import { reviewView } from './review-view.js';

const app = document.getElementById('app')!;

/** The key form: nothing else renders until a key is accepted by the gateway (GET /v1/models). */
function keyGate(message?: string): void {
  const key = h('input', { type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', 'data-testid': 'api-key' });
  const who = h('input', { type: 'text', autocomplete: 'name', 'data-testid': 'annotator' });
  who.value = session.annotator() === 'playground' ? '' : session.annotator();
  const status = h('div', { 'aria-live': 'assertive' }, message ? notice('error', message) : null);
  const form = h(
    'form',
    { class: 'key-form', 'aria-labelledby': 'key-h' },
    h('h2', { id: 'key-h' }, 'Sign in with an API key'),
    h('p', {}, 'The key is kept in this tab only (sessionStorage) and decides which tenant’s data you see.'),
    field('API key', key, 'For the local demo: sk-tessera-local-demo'),
    field('Your name (recorded as the annotator, optional)', who),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'sign-in' }, 'Continue'),
    status,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const k = key.value.trim();
    status.replaceChildren(notice('info', 'Checking the key…'));
    try {
      // Plain fetch: a 401 here is the form's own message, not the global "key expired" handler.
      const res = await fetch('/v1/models', { headers: { authorization: `Bearer ${k}` } }).catch((err: Error) => {
        throw new Error(`the gateway cannot be reached (${err.message})`);
      });
      if (!res.ok) throw await errorFrom(res);
      session.setKey(k);
      session.setAnnotator(who.value.trim() || 'playground');
      shell();
    } catch (err) {
      status.replaceChildren(notice('error', `API key rejected: ${describeError(err)}`));
      key.focus();
    }
  });
  app.replaceChildren(header(false), h('main', { id: 'main' }, form));
  key.focus();
}

function header(signedIn: boolean): HTMLElement {
  return h(
    'header',
    { class: 'top' },
    h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
    h('h1', {}, 'Tessera playground'),
    signedIn
      ? h('button', { type: 'button', class: 'link', 'data-testid': 'sign-out', onclick: () => (session.clear(), keyGate()) }, 'Sign out')
      : null,
  );
}

function shell(): void {
  const chat = chatView();
  const review = reviewView();
  const exp = exportView();
  const views: Array<[string, HTMLElement, (() => void) | undefined]> = [
    ['Chat', chat, undefined],
    ['Review queue', review.el, review.activate],
    ['Export', exp, undefined],
  ];
  const tabs = views.map(([name, view, activate], i) => {
    const tab = h('button', { type: 'button', role: 'tab', id: `tab-${i}`, 'aria-controls': `panel-${i}`, 'aria-selected': String(i === 0), tabindex: i === 0 ? 0 : -1, 'data-testid': `tab-${name.split(' ')[0]!.toLowerCase()}` }, name);
    view.id = `panel-${i}`;
    view.setAttribute('role', 'tabpanel');
    view.setAttribute('aria-labelledby', tab.id);
    view.hidden = i !== 0;
    tab.addEventListener('click', () => select(i, activate));
    return tab;
  });
  const select = (i: number, activate?: () => void) => {
    tabs.forEach((t, j) => {
      t.setAttribute('aria-selected', String(i === j));
      t.tabIndex = i === j ? 0 : -1;
      views[j]![1].hidden = i !== j;
    });
    tabs[i]!.focus();
    activate?.();
  };
  const tablist = h('nav', { role: 'tablist', 'aria-label': 'Sections', class: 'tabs' }, ...tabs);
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
  tablist.addEventListener('keydown', (ev) => {
    const i = tabs.indexOf(document.activeElement as HTMLButtonElement);
    if (i < 0 || (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft')) return;
    const j = (i + (ev.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length;
    select(j, views[j]![2]);
  });
  app.replaceChildren(header(true), h('main', { id: 'main' }, tablist, ...views.map(([, v]) => v)));
  chat.querySelector('textarea')?.focus(); // focus where the work starts: the question
}

setUnauthorizedHandler((message) => {
  session.clear();
  keyGate(`Your API key no longer works (${message}). Enter a valid key to continue.`);
});

window.addEventListener('unhandledrejection', (ev) => {
  // Never a blank screen: anything unexpected is shown, not swallowed.
  app.prepend(notice('error', `Something went wrong: ${describeError(ev.reason)}`));
});

if (session.key()) shell();
else keyGate();
