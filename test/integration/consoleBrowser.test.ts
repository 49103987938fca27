/**
 * The console as a person uses it, in Debian's Chromium driven by playwright-core, against a real
 * API, worker, Redis, S3 server and KIE simulator: log in with a token, enqueue a small batch from
 * the form (after its dry run), watch the batch page reach 100 % without a reload, and play a
 * video in the page (readyState HAVE_FUTURE_DATA, the requested duration). The batch page's
 * screenshot goes to CONSOLE_SCREENSHOT (the README's docs/console-batch.png) or a temp file.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { pauseAccount } from '../../src/pool/accountControl';
import { startRenderStack, type RenderStack } from '../support/renderStack';
import { CONSOLE_TOKEN, startConsoleServer } from '../support/consoleServer';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = path.resolve(process.env.CONSOLE_SCREENSHOT ?? path.join(os.tmpdir(), 'console-batch.png'));
const HAVE_FUTURE_DATA = 3;

/** What the test reads of a <video> in the page (the project's types have no DOM). */
interface VideoElement {
  muted: boolean;
  play(): Promise<void>;
  pause(): void;
  readyState: number;
  duration: number;
  currentSrc: string;
  videoWidth: number;
  videoHeight: number;
  error: { message: string } | null;
}

jest.setTimeout(120_000);

let stack: RenderStack;
let api: { app: FastifyInstance; url: string };
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  stack = await startRenderStack({ sim: { generationMs: [400, 900], videoBytes: 96 * 1024 } });
  await stack.startWorker();
  api = await startConsoleServer(stack);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});

afterAll(async () => {
  await browser?.close();
  await api?.app.close();
  await stack?.close();
});

test('log in, enqueue a batch from the form, watch it finish and play a video', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  const external: string[] = [];
  page.on('request', (r) => {
    const origin = new URL(r.url()).origin;
    if (origin !== api.url && origin !== new URL(stack.env.S3_ENDPOINT!).origin) external.push(r.url());
  });

  // Not logged in: the console sends the browser to the login page.
  await page.goto(`${api.url}/`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.getByLabel('API token').fill(CONSOLE_TOKEN);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${api.url}/`);

  // The session is a cookie script cannot read; the token itself is nowhere in the page.
  const [cookie] = await context.cookies();
  expect(cookie).toMatchObject({ name: 'sora_session', httpOnly: true, sameSite: 'Strict' });
  expect(cookie!.value).not.toContain(CONSOLE_TOKEN);
  expect(await page.content()).not.toContain(CONSOLE_TOKEN);

  const nav = page.getByRole('navigation', { name: 'Console' });
  await nav.getByRole('link', { name: 'New work' }).click();
  await page.getByLabel('Batch name').fill('browser-batch');
  await page.getByLabel('Prompt').fill('a paper boat drifting across a pond at dusk');
  await expect(page.getByLabel('Model').inputValue()).resolves.toBe('sora-2');
  await page.getByLabel('Duration').selectOption('10');
  await page.getByLabel('Aspect ratio').selectOption('16:9');
  await page.getByLabel('Copies').fill('3');
  await page.getByRole('button', { name: 'Check cost and time' }).click();

  // The dry run comes first: count, cost and time, and nothing enqueued yet.
  const review = page.locator('#review');
  await review.getByText('Dry run of batch browser-batch').waitFor();
  expect(await review.locator('.facts').innerText()).toMatch(/renders\s+3/);
  expect(await stack.producer.batches.read('browser-batch')).toBeUndefined();
  await page.getByRole('button', { name: 'Enqueue 3 renders' }).click();
  await page.waitForURL(/#\/batches\/browser-batch$/);

  // Live: the page is never reloaded, the event stream moves the bar.
  const navigations: string[] = [];
  page.on('framenavigated', (f) => navigations.push(f.url()));
  await page.locator('#batch-progress .progress-text').getByText('100 %').waitFor({ timeout: 60_000 });
  expect(navigations).toEqual([]);
  const cards = page.locator('article.card.stored');
  await page.waitForFunction("document.querySelectorAll('article.card.stored video').length === 3");
  await expect(cards.first().innerText()).resolves.toMatch(/sora-2[\s\S]*10 s[\s\S]*96\.0 KB[\s\S]*sha256/);

  // Play the first video in the page, from S3 through its presigned link.
  const played = await page
    .locator('article.card.stored video')
    .first()
    .evaluate(async (video: VideoElement) => {
      video.muted = true;
      await video.play();
      const deadline = Date.now() + 20_000;
      while (video.readyState < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return {
        readyState: video.readyState,
        duration: video.duration,
        src: video.currentSrc,
        width: video.videoWidth,
        height: video.videoHeight,
        error: video.error?.message ?? null,
      };
    });
  expect(played.error).toBeNull();
  expect(played.readyState).toBeGreaterThanOrEqual(HAVE_FUTURE_DATA);
  expect(played.duration).toBeCloseTo(10, 1);
  expect(played.width / played.height).toBeCloseTo(16 / 9, 1);
  expect(played.src).toContain('X-Amz-Signature=');
  expect(played.src).toContain('X-Amz-Expires=900');

  await page.locator('video').evaluateAll((videos: VideoElement[]) => videos.forEach((v) => v.pause()));
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  process.stdout.write(`console batch page screenshot: ${SCREENSHOT}\n`);

  // Readable on a phone: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);

  // The batches list shows it done, cost included; the fleet shows the account.
  await nav.getByRole('link', { name: 'Batches' }).click();
  const row = page.getByRole('row', { name: /browser-batch/ });
  await row.getByText('100 %').waitFor();
  expect(await row.innerText()).toMatch(/3 stored, 0 failed of 3[\s\S]*\$0\.\d+ \/ no budget/);
  // The fleet: a paused account shows its reason (live), and its Resume button, reached by keyboard, resumes it.
  await nav.getByRole('link', { name: 'Fleet' }).click();
  const account = page.getByRole('row', { name: /default/ });
  await account.waitFor();
  await pauseAccount(stack.redis, stack.config, 'default', 'billing check');
  await account.getByText('billing check').waitFor();
  await account.getByRole('button', { name: 'Resume default' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('status').getByText('default resumed; 0 waiting job(s) woken.').waitFor();
  await account.getByRole('cell', { name: 'no', exact: true }).waitFor();

  // A file upload shows its dry run, with the lines it leaves out, before anything is enqueued.
  await nav.getByRole('link', { name: 'New work' }).click();
  await page
    .getByLabel(/CSV/)
    .setInputFiles({ name: 'prompts.csv', mimeType: 'text/csv', buffer: Buffer.from('prompt,duration\na kite,10\na boat,15\na bad line,7\n') });
  await page.getByRole('button', { name: 'Check the file' }).click();
  await review.getByText(/^Dry run of batch /).waitFor();
  expect(await review.innerText()).toMatch(/renders\s+2[\s\S]*1 line\(s\) left out:[\s\S]*line 4: duration/);
  await expect(page.getByRole('button', { name: 'Enqueue 2 renders' }).isEnabled()).resolves.toBe(true);

  expect(pageErrors).toEqual([]);
  expect(external).toEqual([]);
  await context.close();
});
