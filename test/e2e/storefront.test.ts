// The storefront in a real browser (Debian's Chromium, headless, driven by playwright-core) against the
// platform `npm start` runs: a shopper registers, waits for a sale that opens 10 s later (a pow sale: the
// ALTCHA widget solves its challenge meanwhile), buys when the button comes alive, sees the order and pays;
// a second shopper sees it sold out; a shopper on a throttled network whose first answer is lost gets the
// same order on the retry. Every view passes axe-core (no serious or critical violation) at 360 px and
// 1280 px, and is screenshotted at both widths into SHOTS (printed at the end; look at them). The first
// shopper uses the keyboard only: register, buy and pay by Tab and Enter. Every shopper verifies the
// address first, through the link mailed to a real SMTP server (smtp-server) this test starts.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { waitFor } from '../helpers/env.js';
import { ROOT_ADMIN, startPlatform, type Platform } from '../helpers/platform.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';
import { startMailbox, type Mailbox } from '../helpers/smtp.js';

const SHOTS = join(tmpdir(), 'stampede-storefront-shots');
const BIN = new URL('../../bin/stampede.js', import.meta.url).pathname;
const PASSWORD = 'shopper-password-0123';
const WIDTHS = [360, 1280];
let p: Platform;
let browser: Browser;
let base: string;
let mailbox: Mailbox;
let seq = 0;

/** The page's localStorage, as seen from callbacks that run in the browser. */
interface Store {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  readonly length: number;
  key(i: number): string | null;
}

beforeAll(async () => {
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  // The api mails verification links to a real SMTP server started here.
  mailbox = await startMailbox();
  p = await startPlatform({ API_AUTH_RATE_PER_MINUTE: '0', SECKILL_WORKERS: '1', SMTP_URL: mailbox.url });
  base = `http://127.0.0.1:${p.ports.api}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await p?.cleanup();
  await mailbox?.close();
  console.log(`storefront screenshots: ${SHOTS}`);
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

const loginApi = (email: string, password: string) =>
  json<{ accessToken: string; refreshToken: string }>('/api/auth/login', {
    method: 'POST',
    body: JSON.stringify({ email, password }),
  });

/** A sale through the admin API (the same effect as `stampede apply`: preheated at once). */
async function createSale(
  startsInMs: number,
  stock: number,
  purchaseToken?: unknown,
  paused = false,
  paymentWindow = '120s',
): Promise<string> {
  const name = `web-${Date.now().toString(36)}-${++seq}`;
  const { accessToken } = await loginApi(ROOT_ADMIN.email, ROOT_ADMIN.password);
  const start = Date.now() + startsInMs;
  await json(`/api/admin/activities/${name}`, {
    method: 'PUT',
    token: accessToken,
    body: JSON.stringify({
      product: { sku: `SKU-${name}`, name: `Phone ${seq}`, originalPrice: '7999.00', price: '4999.00' },
      stock,
      window: { start: new Date(start).toISOString(), end: new Date(start + 600_000).toISOString() },
      paymentWindow,
      paused,
      ...(purchaseToken ? { purchaseToken } : {}),
    }),
  });
  return name;
}

/**
 * A shopper registered through the API and logged in the way the page keeps a session: the context's own
 * request client logs in for a cookie (so the browser holds the HttpOnly refresh cookie) and the page
 * remembers who is logged in.
 */
async function shopper(ctx: BrowserContext): Promise<string> {
  const email = `shopper-${Date.now()}-${++seq}@example.test`;
  await json('/api/auth/register', { method: 'POST', body: JSON.stringify({ email, password: PASSWORD }) });
  const verified = await fetch(await mailbox.linkFor(email), { redirect: 'manual' });
  expect(verified.headers.get('location')).toBe('/#/verified');
  const login = await ctx.request.post(`${base}/api/auth/login`, {
    data: { email, password: PASSWORD, session: 'cookie' },
  });
  expect(login.status()).toBe(200);
  await ctx.addInitScript((e) => {
    const store = (globalThis as unknown as { localStorage: Store }).localStorage;
    if (!store.getItem('stampede.email')) store.setItem('stampede.email', e);
  }, email);
  return email;
}

/** axe-core at both widths (no serious or critical violation) and a screenshot at each. */
async function check(page: Page, view: string): Promise<void> {
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
}

/** Keyboard only: Tab until the focused element's id or text matches, as a shopper without a mouse would. */
async function tabTo(page: Page, target: RegExp): Promise<void> {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = (
        globalThis as unknown as { document: { activeElement: { id: string; textContent: string } | null } }
      ).document.activeElement;
      return el ? `${el.id} ${el.textContent ?? ''}` : '';
    });
    if (target.test(focused)) return;
  }
  throw new Error(`no focusable element matching ${target} within 40 tabs`);
}

const buyButton = (page: Page) => page.getByRole('button', { name: /buy now|sold out|purchased/i });

it('serves the storefront at / with hashed, long-cached assets and an uncached index.html', async () => {
  const index = await fetch(`${base}/`);
  expect(index.status).toBe(200);
  expect(index.headers.get('cache-control')).toBe('no-cache');
  const html = await index.text();
  const asset = /src="(\/assets\/[^"]+-[\w-]{8}\.js)"/.exec(html)?.[1];
  expect(asset).toBeDefined();
  const js = await fetch(`${base}${asset}`);
  expect(js.status).toBe(200);
  expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  expect((await fetch(`${base}/.vite/manifest.json`)).status).toBe(404);
});

it('register, wait for the start, buy behind a proof of work, pay; a second shopper sees sold out', async () => {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 780 } });
  const page = await ctx.newPage();
  await page.goto(`${base}/#/login`);
  await page.getByRole('heading', { level: 1, name: /log in/i }).waitFor();
  await check(page, 'login');
  const email = `buyer-${Date.now()}@example.test`;
  await tabTo(page, /^email /);
  await page.keyboard.type(email);
  await tabTo(page, /^password /);
  await page.keyboard.type(PASSWORD);
  await tabTo(page, /Create account/);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: `Log out ${email}` }).waitFor();
  // The verify step: "check your mail", the link arrives by SMTP, following it verifies the address.
  await page.getByRole('heading', { level: 1, name: 'Check your mail' }).waitFor();
  await check(page, 'check-mail');
  await page.goto(await mailbox.linkFor(email));
  await page.getByRole('heading', { level: 1, name: 'Email verified' }).waitFor();
  await check(page, 'verified');

  const sale = await createSale(10_000, 1, { required: true, challenge: 'pow', difficulty: 2000 });
  const start = Date.parse(
    (await json<{ window: { start: string } }>(`/api/activities/${sale}`)).window.start,
  );
  await page.goto(`${base}/#/sale/${sale}`);
  await page.getByText(/Starts in/).waitFor();
  // Disabled at every look before the start, enabled once it passed.
  const looks: { at: number; disabled: boolean }[] = [];
  const look = async () => {
    const disabled = await buyButton(page).isDisabled();
    looks.push({ at: Date.now(), disabled });
    return !disabled;
  };
  await look();
  await check(page, 'sale-upcoming');
  await waitFor(look, 'buy button enabled', 30_000);
  const early = looks.filter((l) => l.at < start - 1000);
  expect(early.length).toBeGreaterThan(0);
  expect(early.every((l) => l.disabled)).toBe(true);
  await check(page, 'sale-live');

  await tabTo(page, /Buy now/);
  await page.keyboard.press('Enter');
  const payNow = page.getByRole('button', { name: 'Pay now' });
  await payNow.waitFor({ timeout: 30_000 });
  await expect(page.getByText(/Pay within/).textContent()).resolves.toMatch(/\d\d:\d\d/);
  await check(page, 'sale-pay');
  await tabTo(page, /Pay now/);
  await page.keyboard.press('Enter');
  await page.getByText(/is paid/).waitFor();
  await check(page, 'sale-paid');

  // Back later: the page knows this shopper already holds the order.
  await page.reload();
  await page.getByRole('button', { name: 'Purchased' }).waitFor();
  await page.getByText(/is paid/).waitFor();

  await page.goto(`${base}/#/`);
  await page.reload();
  await page.getByRole('link', { name: /Phone/ }).first().waitFor();
  await check(page, 'sales');

  await page.goto(`${base}/#/orders`);
  await page.getByRole('cell', { name: 'paid' }).waitFor();
  await check(page, 'orders');

  const other = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await shopper(other);
  const late = await other.newPage();
  await late.goto(`${base}/#/sale/${sale}`);
  await late.getByRole('button', { name: 'Sold out' }).waitFor();
  expect(await late.getByRole('button', { name: 'Sold out' }).isDisabled()).toBe(true);
  await check(late, 'sale-sold-out');
  await other.close();
  await ctx.close();
}, 180_000);

it('shows an ended and a paused sale clearly, the buy button disabled', async () => {
  const ended = await createSale(-700_000, 3);
  const paused = await createSale(0, 3, undefined, true);
  const ctx = await browser.newContext({ viewport: { width: 360, height: 780 } });
  await shopper(ctx);
  const page = await ctx.newPage();
  for (const [sale, text, view] of [
    [ended, 'This sale has ended.', 'sale-ended'],
    [paused, 'This sale is paused.', 'sale-paused'],
  ] as const) {
    await page.goto(`${base}/#/sale/${sale}`);
    await page.getByRole('status').filter({ hasText: text }).waitFor();
    expect(await buyButton(page).isDisabled()).toBe(true);
    await check(page, view);
  }
  await ctx.close();
}, 60_000);

it('closes the payment when its deadline passes: no more "Pay now"', async () => {
  const sale = await createSale(0, 3, undefined, false, '5s');
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await shopper(ctx);
  const page = await ctx.newPage();
  await page.goto(`${base}/#/sale/${sale}`);
  await waitFor(async () => buyButton(page).isEnabled(), 'buy enabled', 30_000);
  await buyButton(page).click();
  await page.getByRole('button', { name: 'Pay now' }).waitFor({ timeout: 30_000 });
  await page.getByText('The payment window has closed.').waitFor({ timeout: 30_000 });
  expect(await page.getByRole('button', { name: 'Pay now' }).count()).toBe(0);
  await check(page, 'sale-payment-closed');
  await ctx.close();
}, 90_000);

it('a shopper on a slow network whose first answer is lost retries with the same key: the same order', async () => {
  const sale = await createSale(0, 5, { required: true });
  const ctx = await browser.newContext({ viewport: { width: 360, height: 780 } });
  await shopper(ctx);
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 400,
    downloadThroughput: 50 * 1024,
    uploadThroughput: 25 * 1024,
  });
  const keys: string[] = [];
  let first: { orderId?: string } | null = null;
  await page.route(`**/seckill/${sale}`, async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    keys.push(route.request().headers()['idempotency-key'] ?? '');
    if (first) return route.continue();
    // The purchase reaches the server and is accepted; its answer never reaches the page.
    const answer = await route.fetch();
    first = (await answer.json()) as { orderId?: string };
    return route.abort('connectionreset');
  });
  await page.goto(`${base}/#/sale/${sale}`);
  const buy = page.getByRole('button', { name: 'Buy now' });
  await waitFor(async () => buy.isEnabled(), 'buy enabled', 30_000);
  await buy.click();
  await page.getByRole('button', { name: 'Pay now' }).waitFor({ timeout: 60_000 });
  expect(first).toMatchObject({ orderId: expect.any(String) });
  expect(keys.length).toBeGreaterThanOrEqual(2);
  expect(new Set(keys).size).toBe(1);
  const orderId = (first as unknown as { orderId: string }).orderId;
  await expect(page.getByText(`Order ${orderId.slice(0, 8)}…`).textContent()).resolves.toContain('pending');
  // The refresh token is nowhere a script could read it: not in storage, not in document.cookie.
  const visible = await page.evaluate(() => {
    const g = globalThis as unknown as { localStorage: Store; document: { cookie: string } };
    const keys = Array.from({ length: g.localStorage.length }, (_, i) => g.localStorage.key(i));
    return { keys, cookie: g.document.cookie };
  });
  expect(visible).toEqual({ keys: ['stampede.email'], cookie: '' });
  const [cookie] = (await ctx.cookies(`${base}/api/auth/refresh`)).filter(
    (c) => c.name === 'stampede_refresh',
  );
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/api/auth/refresh' });
  const refreshed = await ctx.request.post(`${base}/api/auth/refresh`);
  expect(refreshed.status()).toBe(200);
  const { accessToken } = (await refreshed.json()) as { accessToken: string };
  const orders = await json<{ items: { id: string }[] }>('/api/orders', { token: accessToken });
  expect(orders.items.map((o) => o.id)).toEqual([orderId]);
  await ctx.close();
}, 120_000);

it('a 429 waits for Retry-After and retries by itself with the same key', async () => {
  const sale = await createSale(0, 3);
  const ctx = await browser.newContext({ viewport: { width: 360, height: 780 } });
  await shopper(ctx);
  const page = await ctx.newPage();
  const seen: { key: string; at: number }[] = [];
  await page.route(`**/seckill/${sale}`, async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    seen.push({ key: route.request().headers()['idempotency-key'] ?? '', at: Date.now() });
    if (seen.length > 1) return route.continue();
    return route.fulfill({
      status: 429,
      headers: { 'content-type': 'application/problem+json', 'retry-after': '1' },
      body: JSON.stringify({
        type: 'about:blank',
        title: 'Too many requests',
        status: 429,
        code: 'RATE_LIMITED',
      }),
    });
  });
  await page.goto(`${base}/#/sale/${sale}`);
  await waitFor(async () => buyButton(page).isEnabled(), 'buy enabled', 30_000);
  await buyButton(page).click();
  await page.getByRole('button', { name: 'Pay now' }).waitFor({ timeout: 30_000 });
  expect(seen).toHaveLength(2);
  expect(seen[1]?.key).toBe(seen[0]?.key);
  // It waited for Retry-After (1 s) before the retry, rather than hammering.
  expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
  await ctx.close();
}, 60_000);

it('stampede sale runs a protected sale: tokens behind a proof of work, and says what they cost', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      BIN,
      'sale',
      '--json',
      '--stock',
      '20',
      '--users',
      '100',
      '--requests-per-user',
      '2',
      '--concurrency',
      '16',
      '--payment-window',
      '10',
      '--purchase-token',
      'pow',
      '--difficulty',
      '2000',
      '--seckill-url',
      `http://127.0.0.1:${p.ports.seckill}`,
      '--api-url',
      base,
    ],
    { env: { ...process.env, STAMPEDE_PREFIX: p.prefix, DATABASE_SCHEMA: p.schema }, maxBuffer: 8 << 20 },
  );
  const summary = JSON.parse(stdout) as {
    invariants: Record<string, number>;
    accepted: number;
    outcomes: Record<string, number>;
    purchaseToken: { mode: string; tokenMs: { p50: number }; solveMs: { p50: number } };
  };
  expect(summary.invariants).toEqual({ oversold: 0, duplicate: 0, lost: 0 });
  expect(summary.accepted).toBeGreaterThanOrEqual(20);
  expect(Object.keys(summary.outcomes).filter((o) => o.startsWith('token_'))).toEqual([]);
  expect(summary.purchaseToken.mode).toBe('pow');
  expect(summary.purchaseToken.tokenMs.p50).toBeGreaterThan(0);
  expect(summary.purchaseToken.solveMs.p50).toBeGreaterThan(0);
}, 180_000);
