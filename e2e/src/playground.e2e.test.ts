/**
 * The playground in headless Chromium against the real local stack: every service as a process,
 * the tiny model, the gateway serving the built UI at `/`. A user signs in with an API key, attaches
 * a non-image (clear error) and an image (slice view with its visual-token cost), streams an answer,
 * corrects a span, finds the correction in the SFT export, and sees a clear message when the
 * gateway dies mid-answer. Screenshots go to
 * test-artifacts/playground/ (gitignored).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { connect } from 'nats';
import { SERVICES } from '@tessera/contracts';
import { REPO_ROOT, startLocalStack, type RunningStack } from '@tessera/local-stack';
import { natsClient } from '@tessera/runtime';
import { ensureTinyModel } from '@tessera/model';
import { ensureWebBuild } from '@tessera/web';

const CHROMIUM = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium';
const KEYS = { acme: 'sk-e2e-web-acme', other: 'sk-e2e-web-other', revoked: 'sk-e2e-web-revoked' };
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'playground');
// The flags: no GPU, no background traffic or updates (nothing outside can be reached here).
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];

let stack: RunningStack;
let context: BrowserContext;
let profile: string;
let dir: string;

async function png(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw.set([(x * 255) / width, (y * 255) / height, 128], (y * width + x) * 3);
  return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(stack.httpUrl + '/');
  await page.getByLabel('API key', { exact: true }).fill(key);
  await page.getByTestId('sign-in').click();
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-system.sh (apt-get install chromium)`);
  const [modelDir] = await Promise.all([ensureTinyModel(), ensureWebBuild()]);
  dir = mkdtempSync(join(tmpdir(), 'tessera-web-e2e-'));
  const keysFile = join(dir, 'keys.json');
  const sha = (k: string) => createHash('sha256').update(k).digest('hex');
  writeFileSync(
    keysFile,
    JSON.stringify({
      keys: [
        { id: 'acme', tenant: 'acme', sha256: sha(KEYS.acme) },
        { id: 'other', tenant: 'other', sha256: sha(KEYS.other) },
        { id: 'acme-old', tenant: 'acme', sha256: sha(KEYS.revoked), revoked: true },
      ],
    }),
  );
  stack = await startLocalStack({
    modelDir,
    workDir: dir,
    env: { TESSERA_INTRA_OP_THREADS: '1' },
    serviceEnv: { gateway: { TESSERA_GATEWAY_API_KEYS_FILE: keysFile } },
  });
  profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 } });
}, 240_000);

afterAll(async () => {
  await context?.close();
  await stack?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('playground in Chromium', () => {
  it('says clearly when the API key is wrong or revoked, and shows no data', async () => {
    const page = await context.newPage();
    await signIn(page, 'sk-not-a-key');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('API key rejected: invalid API key');
    await signIn(page, KEYS.revoked);
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('has been revoked');
    expect(await page.getByTestId('tab-chat').count()).toBe(0);
    await shot(page, '01-bad-key');
    await page.close();
  });

  it('streams an answer about an uploaded image, corrects a span and finds it in the export', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await signIn(page, KEYS.acme);
    await page.getByTestId('question').waitFor();

    // A non-image file is refused with a message, not sent.
    await page.getByTestId('files').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a picture') });
    await expect.poll(() => page.locator('.attachment [role=alert]').first().textContent()).toContain('notes.txt is not an image');
    // Bytes that claim to be a PNG but are not: the gateway's slice-plan route refuses them.
    await page.getByTestId('files').setInputFiles({ name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('definitely not png bytes') });
    await expect.poll(() => page.locator('.attachment [role=alert]').nth(1).textContent()).toContain('fake.png cannot be used: image is not a decodable image');

    // 1344×896 → overview + 3×2 grid = 7 images × 64 = 448 visual tokens.
    await page.getByTestId('files').setInputFiles({ name: 'scene.png', mimeType: 'image/png', buffer: await png(1344, 896) });
    await expect.poll(() => page.getByTestId('visual-tokens').textContent()).toBe('448 visual tokens');
    await shot(page, '02-slice-view');

    await page.getByLabel('Max tokens').fill('12');
    await page.getByTestId('question').fill('What is in this picture?');
    await page.getByTestId('send').click();
    const answer = page.getByTestId('answer').first();
    await expect.poll(() => answer.getByTestId('response-id').textContent(), { timeout: 60_000 }).toMatch(/^chatcmpl-/);
    await answer.getByTestId('correct-selection').waitFor({ timeout: 60_000 });
    const text = (await answer.getByTestId('answer-text').textContent()) ?? '';
    expect(text.length).toBeGreaterThan(0);
    await answer.locator('summary', { hasText: 'Timings and tokens' }).click();
    expect(await answer.getByTestId('stat-of-which-visual-tokens').textContent()).toBe('448');
    await shot(page, '03-answer');

    // Two corrections on one answer: code points [0,3) and [4,6). Offsets are code points, the
    // DOM's are UTF-16, and after the first one the answer holds a <mark>, so walk its text nodes.
    const cps = Array.from(text);
    expect(cps.length).toBeGreaterThanOrEqual(6);
    const select = (start: number, end: number) =>
      answer.getByTestId('answer-text').evaluate(
        (el: any, [a, b]: number[]) => {
          // Runs in the page (this file is type-checked without the DOM lib, hence `any`).
          const w = globalThis as any;
          const range = w.document.createRange();
          const walker = w.document.createTreeWalker(el, 4 /* SHOW_TEXT */);
          let seen = 0;
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const len = node.data.length;
            if (a >= seen && a <= seen + len) range.setStart(node, a - seen);
            if (b >= seen && b <= seen + len) range.setEnd(node, b - seen);
            seen += len;
          }
          w.getSelection().removeAllRanges();
          w.getSelection().addRange(range);
        },
        [cps.slice(0, start).join('').length, cps.slice(0, end).join('').length],
      );
    const correct = async (start: number, end: number, replacement: string, category: string) => {
      await select(start, end);
      await answer.getByTestId('correct-selection').click();
      expect(await answer.getByTestId('selected-text').textContent()).toBe(cps.slice(start, end).join(''));
      await answer.getByTestId('replacement').fill(replacement);
      await answer.getByTestId('category').selectOption(category);
      await answer.getByTestId('add-correction').click();
    };
    await correct(0, 3, 'CORRECTED', 'count');
    await correct(4, 6, 'FIXED', 'attribute');
    expect(await answer.locator('.answer-text mark').count()).toBe(2);
    await shot(page, '04a-two-corrections');
    await answer.getByTestId('save-corrections').click();
    const corrected = 'CORRECTED' + cps[3] + 'FIXED' + cps.slice(6).join('');
    await expect.poll(() => answer.getByTestId('corrected-answer').textContent()).toBe(corrected);
    await answer.getByTestId('thumbs-down').click();
    await expect.poll(() => answer.locator('.status').textContent()).toContain('thumbs down');
    await shot(page, '04-corrected');

    // The correction is in the SFT export, exactly as the feedback service exports it.
    await page.getByTestId('tab-export').click();
    await page.getByTestId('export-format').selectOption('sft');
    await page.getByTestId('run-export').click();
    await expect.poll(() => page.getByTestId('export-rows').textContent()).toContain('CORRECTED');
    await page.getByTestId('export-format').selectOption('spans_sidecar');
    await page.getByTestId('run-export').click();
    await expect.poll(() => page.getByTestId('export-rows').textContent()).toContain('"count"');
    expect(await page.getByTestId('export-rows').textContent()).toContain('"attribute"');
    await shot(page, '05-export');

    // A second sample of the same prompt side by side; pick the better one (a preference record).
    await page.getByTestId('tab-chat').click();
    await answer.getByTestId('compare').click();
    const b = page.getByTestId('answer-b');
    await b.getByTestId('thumbs-down').waitFor({ timeout: 60_000 });
    await page.getByTestId('prefer-a').click();
    await expect.poll(() => page.locator('.compare').textContent()).toContain('Saved: A is better.');
    await b.getByTestId('thumbs-down').click();
    await expect.poll(() => b.locator('.status').textContent()).toContain('thumbs down');
    const bId = await b.getByTestId('response-id').textContent();
    await shot(page, '05b-compare');

    // The thumbs-down answer B waits in this tenant's review queue (A left it: a human corrected it).
    await page.getByTestId('tab-review').click();
    await expect.poll(() => page.getByTestId('review-position').textContent()).toMatch(/^Item 1 of \d+/);
    expect(await page.locator('.review-item').textContent()).toContain(bId);
    expect(await page.locator('.review-item').textContent()).toContain('thumbs down');
    // Keyboard: "u" rates the current item up (now thumbs up and down: disagreement).
    await page.keyboard.press('u');
    await expect.poll(() => page.locator('.review-item .status').textContent()).toContain('Saved: thumbs up.');
    await shot(page, '06-review');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('grounds an answer in a collection and lists its sources under it', async () => {
    const nc = await connect({ servers: stack.natsUrl, ...stack.natsLogin });
    const retrieval = natsClient(nc, SERVICES.retrieval.definition);
    await retrieval.createCollection({ name: 'handbook', description: '', distance: 0, embeddingModel: '', dimension: 0, getOrCreate: true }, { tenant: 'acme' });
    await retrieval.addDocuments(
      {
        collection: 'handbook',
        documents: [
          { id: 'vacation', text: 'Employees get 30 days of paid vacation per year.', metadata: {} },
          { id: 'parking', text: 'The parking garage opens at 6am.', metadata: {} },
        ],
        async: false,
      },
      { tenant: 'acme' },
    );
    await nc.close();
    const page = await context.newPage();
    await signIn(page, KEYS.acme);
    await page.getByLabel('Max tokens').fill('4');
    await page.getByTestId('collection').fill('handbook');
    await page.getByLabel('Passages (k)').fill('1');
    await page.getByTestId('question').fill('How many days of paid vacation do employees get?');
    await page.getByTestId('send').click();
    const sources = page.getByTestId('answer').first().getByRole('region', { name: 'Sources' });
    await expect.poll(() => sources.textContent(), { timeout: 60_000 }).toContain('30 days of paid vacation');
    expect(await sources.locator('li').count()).toBe(1);
    await shot(page, '06b-sources');
    await page.close();
  });

  it('shows another tenant none of that data, takes a pasted image, and fits a phone screen', async () => {
    const page = await context.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page, KEYS.other);
    await page.getByTestId('tab-review').click();
    await expect.poll(() => page.locator('.review-item').textContent()).toContain('the queue is empty for this tenant');
    await page.getByTestId('tab-export').click();
    await page.getByTestId('run-export').click();
    await expect.poll(() => page.locator('[role=status]').last().textContent()).toContain('0 rows');
    await page.getByTestId('tab-chat').click();
    // A pasted image (clipboard) is attached like a picked one: 448×448 fits one tile = 64 tokens.
    const pasted = (await png(448, 448)).toString('base64');
    await page.getByTestId('question').evaluate((el: any, b64: string) => {
      const w = globalThis as any;
      const bytes = Uint8Array.from(w.atob(b64), (c: string) => c.charCodeAt(0));
      const dt = new w.DataTransfer();
      dt.items.add(new w.File([bytes], 'clip.png', { type: 'image/png' }));
      el.dispatchEvent(new w.ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, pasted);
    await expect.poll(() => page.getByTestId('visual-tokens').textContent()).toBe('64 visual tokens');
    // Every form control has a label (screen readers; tapping the label focuses the control).
    const unlabelled = await page.evaluate(() =>
      Array.from((globalThis as any).document.querySelectorAll('input, select, textarea') as any[])
        .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
        .map((el) => el.outerHTML as string),
    );
    expect(unlabelled).toEqual([]);
    // Nothing is wider than the screen (no sideways scrolling on a phone).
    expect(await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth as number)).toBeLessThanOrEqual(390);
    await shot(page, '07-phone');
    await page.close();
  });

  // Last: it takes the gateway down. A stream cut mid-answer keeps the partial text and says why.
  it('stops on request, and tells the user when the stack goes away mid-answer, keeping the partial answer', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await signIn(page, KEYS.acme);
    await page.getByLabel('Max tokens').fill('400');
    // Stop aborts the fetch (the gateway cancels downstream); what streamed so far stays.
    await page.getByTestId('question').fill('Tell me a story.');
    await page.getByTestId('send').click();
    const stopped = page.getByTestId('answer').first();
    await expect.poll(() => stopped.getByTestId('answer-text').textContent(), { timeout: 60_000 }).not.toBe('');
    await page.getByTestId('stop').click();
    await expect.poll(() => stopped.locator('[role=status]').first().textContent()).toContain('Stopped.');
    expect(await page.getByTestId('stop').isDisabled()).toBe(true);

    await page.getByTestId('question').fill('Tell me a long story.');
    await page.getByTestId('send').click();
    const answer = page.getByTestId('answer').nth(1);
    await expect.poll(() => answer.getByTestId('answer-text').textContent(), { timeout: 60_000 }).not.toBe('');
    stack.kill('gateway');
    await expect.poll(() => answer.getByRole('alert').textContent(), { timeout: 30_000 }).toMatch(/broke mid-answer|closed the stream/);
    expect(((await answer.getByTestId('answer-text').textContent()) ?? '').length).toBeGreaterThan(0);
    expect(await page.getByTestId('send').isEnabled()).toBe(true);
    await shot(page, '08-stack-gone');
    expect(errors).toEqual([]);
    await page.close();
  });
});
