// The waiting room in a real browser (Debian's Chromium, headless, playwright-core) against the platform
// `npm start` runs (docs/waiting-room.md): two shoppers join a room before the start and wait in its
// pre-queue with the seed's commitment on screen; at the start the revealed seed (whose SHA-256 is the
// commitment) puts them in order, one is admitted (maxActive 1), the buy step opens by itself with the
// time left, they buy with the admission's Purchase-Token, and the other is admitted after that purchase
// and buys too. A second sale asks for proof of work at the join, lets an admission run out (expired, the
// next shopper admitted) and tells a waiting shopper "sold out" at once. axe-core finds no serious or
// critical violation in any room state at 360 px and 1280 px; the first shopper uses the keyboard only.
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { waitFor } from '../helpers/env.js';
import { ROOT_ADMIN, startPlatform, type Platform } from '../helpers/platform.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';
import { startMailbox, type Mailbox } from '../helpers/smtp.js';

const SHOTS = join(tmpdir(), 'stampede-storefront-room-shots');
const PASSWORD = 'shopper-password-0123';
const WIDTHS = [360, 1280];
let p: Platform;
let browser: Browser;
let base: string;
let mailbox: Mailbox;
let seq = 0;

interface Store {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
}
interface Summary {
  state: string;
  commitment: string;
  seed?: string;
}

beforeAll(async () => {
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  mailbox = await startMailbox();
  p = await startPlatform({ API_AUTH_RATE_PER_MINUTE: '0', SECKILL_WORKERS: '1', SMTP_URL: mailbox.url });
  base = `http://127.0.0.1:${p.ports.api}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await p?.cleanup();
  await mailbox?.close();
  console.log(`storefront room screenshots: ${SHOTS}`);
});

async function json<T>(path: string, init: RequestInit & { token?: string } = {}): Promise<T> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  if (init.body) headers.set('content-type', 'application/json');
  const r = await fetch(base + path, { ...init, headers });
  const text = await r.text();
  if (!r.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${r.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A sale with a waiting room through the admin API (the effect of `stampede apply`: preheated at once). */
async function createRoomSale(startsInMs: number, stock: number, room: object, extra: object = {}) {
  const name = `room-${Date.now().toString(36)}-${++seq}`;
  const { accessToken } = await json<{ accessToken: string }>('/api/auth/login', {
    method: 'POST',
    body: JSON.stringify(ROOT_ADMIN),
  });
  const start = Date.now() + startsInMs;
  await json(`/api/admin/activities/${name}`, {
    method: 'PUT',
    token: accessToken,
    body: JSON.stringify({
      product: { sku: `SKU-${name}`, name: `Console ${seq}`, originalPrice: '599.00', price: '399.00' },
      stock,
      window: { start: new Date(start).toISOString(), end: new Date(start + 600_000).toISOString() },
      paymentWindow: '120s',
      waitingRoom: { enabled: true, admitPerSecond: 1, maxActive: 1, ...room },
      ...extra,
    }),
  });
  return { name, start };
}

/** A verified shopper whose browser context holds the refresh cookie (as storefront.test.ts logs in). */
async function shopper(width: number): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width, height: width < 600 ? 780 : 900 } });
  const email = `waiter-${Date.now()}-${++seq}@example.test`;
  await json('/api/auth/register', { method: 'POST', body: JSON.stringify({ email, password: PASSWORD }) });
  await fetch(await mailbox.linkFor(email), { redirect: 'manual' });
  const login = await ctx.request.post(`${base}/api/auth/login`, {
    data: { email, password: PASSWORD, session: 'cookie' },
  });
  expect(login.status()).toBe(200);
  await ctx.addInitScript((e) => {
    const store = (globalThis as unknown as { localStorage: Store }).localStorage;
    if (!store.getItem('stampede.email')) store.setItem('stampede.email', e);
  }, email);
  return { ctx, page: await ctx.newPage() };
}

/** axe-core at both widths (no serious or critical violation) and a screenshot at each. */
async function check(page: Page, view: string): Promise<void> {
  const original = page.viewportSize();
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: width < 600 ? 780 : 900 });
    await page.screenshot({ path: join(SHOTS, `${view}-${width}.png`), fullPage: true });
    if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(axe.source);
    const result = (await page.evaluate(
      "axe.run(document, { resultTypes: ['violations'] })",
    )) as axe.AxeResults;
    const bad = result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ view, width, id: v.id, nodes: v.nodes.map((n) => n.target.join(' ')) }));
    expect(bad).toEqual([]);
  }
  if (original) await page.setViewportSize(original);
}

const focused = (page: Page) =>
  page.evaluate(() => {
    const d = (globalThis as unknown as { document: { activeElement: { textContent: string } | null } })
      .document;
    return d.activeElement?.textContent ?? '';
  });

/** Keyboard only: Tab until the focused element's text matches. */
async function tabTo(page: Page, target: RegExp): Promise<void> {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    if (target.test(await focused(page))) return;
  }
  throw new Error(`no focusable element matching ${target} within 40 tabs`);
}

const region = (page: Page, id: 'announce' | 'alert') => page.locator(`#${id}`).textContent();
/** A line of the page itself (the live regions outside <main> repeat it inside a longer text). */
const says = (page: Page, text: string) => page.locator('main').getByText(text, { exact: true });
const yourTurn = (page: Page) => says(page, 'It is your turn!');
const buyNow = (page: Page) => page.getByRole('button', { name: 'Buy now' });
const payNow = (page: Page) => page.getByRole('button', { name: 'Pay now' });

/** The ticket the page's join was answered with, and the Purchase-Token headers its purchases sent. */
function watch(page: Page, sale: string) {
  const seen = { ticket: '', purchaseTokens: [] as string[] };
  page.on('response', (r) => {
    if (r.request().method() === 'POST' && r.url().endsWith(`/seckill/${sale}/queue`) && r.ok())
      void r.json().then((b: { ticket: string }) => (seen.ticket = b.ticket));
  });
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith(`/seckill/${sale}`))
      seen.purchaseTokens.push(r.headers()['purchase-token'] ?? '');
  });
  return seen;
}

it('two shoppers wait in the pre-queue, are admitted in the drawn order, one at a time, and buy', async () => {
  const a = await shopper(360);
  const b = await shopper(1280);
  // Far enough ahead for both joins on a busy machine; every wait below is for a condition.
  const { name: sale, start } = await createRoomSale(25_000, 2, { opensBefore: '10m', admissionTtl: '60s' });
  const before = await json<Summary>(`/seckill/${sale}/queue`);
  expect(before.state).toBe('pre-queue');
  const seenA = watch(a.page, sale);
  const seenB = watch(b.page, sale);

  // A: keyboard only.
  await a.page.goto(`${base}/#/sale/${sale}`);
  await a.page.getByRole('heading', { level: 2, name: 'Waiting room' }).waitFor();
  await a.page.getByText(before.commitment).waitFor();
  await check(a.page, 'room-open');
  await tabTo(a.page, /Join the waiting room/);
  await a.page.keyboard.press('Enter');
  await b.page.goto(`${base}/#/sale/${sale}`);
  await b.page.getByRole('button', { name: 'Join the waiting room' }).click();
  for (const s of [a, b]) {
    await says(s.page, 'You are in the pre-queue.').waitFor();
    await s.page.getByText(before.commitment).waitFor();
    expect(await buyNow(s.page).isDisabled()).toBe(true);
  }
  expect(Date.now()).toBeLessThan(start);
  expect(await region(a.page, 'announce')).toContain('pre-queue');
  await check(a.page, 'room-pre-queue');

  // The start: one is admitted (maxActive 1), the other is number 1 behind them.
  const first = await waitFor(
    async () => ((await yourTurn(a.page).isVisible()) ? a : (await yourTurn(b.page).isVisible()) ? b : null),
    'a first admission',
    60_000,
  );
  const second = first === a ? b : a;
  await says(second.page, 'You are number 1 in line.').waitFor();
  expect(await second.page.getByRole('progressbar').count()).toBe(1);
  expect(await yourTurn(second.page).count()).toBe(0);
  // The revealed seed is the committed one, and it drew the order the room admits in.
  const after = await waitFor(async () => {
    const s = await json<Summary>(`/seckill/${sale}/queue`);
    return s.seed ? s : null;
  }, 'the seed');
  expect(
    createHash('sha256')
      .update(after.seed as string)
      .digest('hex'),
  ).toBe(before.commitment);
  const score = (t: string) => createHash('sha1').update(`${after.seed}${t}`).digest('hex').slice(0, 13);
  const [ta, tb] = [seenA.ticket, seenB.ticket];
  expect(ta && tb).toBeTruthy();
  expect(first === a ? score(ta) < score(tb) : score(tb) < score(ta)).toBe(true);
  for (const s of [a, b]) await s.page.getByText(after.seed as string).waitFor();

  // The buy step opened by itself: enabled, focused, the time left shown, said assertively.
  await waitFor(async () => buyNow(first.page).isEnabled(), 'buy enabled at the admission');
  await first.page
    .locator('main')
    .getByText(/^Buy within \d\d:\d\d$/)
    .waitFor();
  await waitFor(async () => /It is your turn/.test((await region(first.page, 'alert')) ?? ''), 'alert');
  await waitFor(async () => (await focused(first.page)) === 'Buy now', 'focus on Buy now');
  await check(first.page, 'room-admitted');
  await check(second.page, 'room-waiting');

  // The first buys (the keyboard shopper presses Enter on the focused button); then the second is let in.
  if (first === a) await a.page.keyboard.press('Enter');
  else await buyNow(first.page).click();
  await payNow(first.page).waitFor({ timeout: 30_000 });
  await says(first.page, 'You are through: your order is below.').waitFor();
  await yourTurn(second.page).waitFor({ timeout: 30_000 });
  await waitFor(async () => /It is your turn/.test((await region(second.page, 'alert')) ?? ''), 'alert 2');
  await buyNow(second.page).click();
  await payNow(second.page).waitFor({ timeout: 30_000 });
  for (const seen of [seenA, seenB]) {
    expect(seen.purchaseTokens.length).toBeGreaterThanOrEqual(1);
    expect(seen.purchaseTokens.every((t) => t.length > 20)).toBe(true);
  }
  expect((await json<{ stock: { remaining: number } }>(`/api/activities/${sale}`)).stock.remaining).toBe(0);
  await a.ctx.close();
  await b.ctx.close();
}, 180_000);

it('a pow room: an admission that runs out lets the next in, and a waiting shopper hears sold out', async () => {
  const a = await shopper(360);
  const b = await shopper(360);
  const c = await shopper(1280);
  const { name: sale } = await createRoomSale(
    0,
    1,
    { opensBefore: '0s', admissionTtl: '15s', challenge: 'pow' },
    { purchaseToken: { difficulty: 2000 } },
  );
  const joinAndWait = async (s: { page: Page }, text: string) => {
    await s.page.goto(`${base}/#/sale/${sale}`);
    await s.page.getByRole('button', { name: 'Join the waiting room' }).click();
    await says(s.page, text).waitFor({ timeout: 30_000 });
  };
  // A joins alone (solving the room's challenge) and is admitted; B waits behind the one slot.
  await joinAndWait(a, 'It is your turn!');
  await joinAndWait(b, 'You are number 1 in line.');
  // A never buys: the admission runs out, the buy step closes, and B is admitted in its place.
  await says(a.page, 'Your turn ran out.').waitFor({ timeout: 30_000 });
  expect(await buyNow(a.page).isDisabled()).toBe(true);
  await check(a.page, 'room-expired');
  await yourTurn(b.page).waitFor({ timeout: 30_000 });
  // C joins while B holds the last unit's admission: C waits, and hears sold out once B buys.
  await joinAndWait(c, 'You are number 1 in line.');
  await buyNow(b.page).click();
  await payNow(b.page).waitFor({ timeout: 30_000 });
  await says(c.page, 'Every unit is taken: nobody else will be let in.').waitFor({ timeout: 30_000 });
  await waitFor(async () => /Sold out/.test((await region(c.page, 'alert')) ?? ''), 'sold out alert');
  await c.page.getByRole('button', { name: 'Sold out' }).waitFor();
  await check(c.page, 'room-sold-out');
  for (const s of [a, b, c]) await s.ctx.close();
}, 180_000);
