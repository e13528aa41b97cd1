// The storefront in a real browser (Debian's Chromium, headless, driven by playwright-core) against the
// platform `npm start` runs: a shopper registers, waits for a sale that opens 10 s later (a pow sale: the
// ALTCHA widget solves its challenge meanwhile), buys when the button comes alive, sees the order and pays;
// a second shopper sees it sold out; a shopper on a throttled network whose first answer is lost gets the
// same order on the retry. Every view passes axe-core (no serious or critical violation) at 360 px and
// 1280 px, and is screenshotted at both widths into SHOTS (printed at the end; look at them). The first
// shopper uses the keyboard only: register, buy and pay by Tab and Enter. Every shopper verifies the
// address first, through the link mailed to a real SMTP server (smtp-server) this test starts.
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';
import { waitFor } from '../helpers/env.js';
import { PASSWORD, Storefront, tabTo, type Store } from '../helpers/storefront.js';

const SHOTS = join(tmpdir(), 'stampede-storefront-shots');
const BIN = new URL('../../bin/stampede.js', import.meta.url).pathname;
let sf: Storefront;

beforeAll(async () => {
  sf = await Storefront.start(SHOTS);
}, 120_000);
afterAll(async () => {
  await sf?.close();
  console.log(`storefront screenshots: ${SHOTS}`);
});

/** A sale through the admin API (the same effect as `stampede apply`: preheated at once). */
async function createSale(
  startsInMs: number,
  stock: number,
  purchaseToken?: unknown,
  paused = false,
  paymentWindow = '120s',
): Promise<string> {
  const product = { name: 'Phone', originalPrice: '7999.00', price: '4999.00' };
  const spec = { paymentWindow, paused, ...(purchaseToken ? { purchaseToken } : {}) };
  return (await sf.createSale('web', startsInMs, stock, product, spec)).name;
}

/** A verified shopper logged in as the page keeps a session (see Storefront.shopper). */
async function shopper(ctx: BrowserContext): Promise<string> {
  const { email, verified } = await sf.shopper(ctx, 'shopper');
  expect(verified).toBe('/#/verified');
  return email;
}

const buyButton = (page: Page) => page.getByRole('button', { name: /buy now|sold out|purchased/i });

it('serves the storefront at / with hashed, long-cached assets and an uncached index.html', async () => {
  const index = await fetch(`${sf.base}/`);
  expect(index.status).toBe(200);
  expect(index.headers.get('cache-control')).toBe('no-cache');
  const html = await index.text();
  const asset = /src="(\/assets\/[^"]+-[\w-]{8}\.js)"/.exec(html)?.[1];
  expect(asset).toBeDefined();
  const js = await fetch(`${sf.base}${asset}`);
  expect(js.status).toBe(200);
  expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  expect((await fetch(`${sf.base}/.vite/manifest.json`)).status).toBe(404);
});

it('register, wait for the start, buy behind a proof of work, pay; a second shopper sees sold out', async () => {
  const ctx = await sf.browser.newContext({ viewport: { width: 360, height: 780 } });
  const page = await ctx.newPage();
  await page.goto(`${sf.base}/#/login`);
  await page.getByRole('heading', { level: 1, name: /log in/i }).waitFor();
  await sf.check(page, 'login');
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
  await sf.check(page, 'check-mail');
  await page.goto(await sf.mailbox.linkFor(email));
  await page.getByRole('heading', { level: 1, name: 'Email verified' }).waitFor();
  await sf.check(page, 'verified');

  const sale = await createSale(10_000, 1, { required: true, challenge: 'pow', difficulty: 2000 });
  const start = Date.parse(
    (await sf.json<{ window: { start: string } }>(`/api/activities/${sale}`)).window.start,
  );
  await page.goto(`${sf.base}/#/sale/${sale}`);
  await page.getByText(/Starts in/).waitFor();
  // Disabled at every look before the start, enabled once it passed.
  const looks: { at: number; disabled: boolean }[] = [];
  const look = async () => {
    const disabled = await buyButton(page).isDisabled();
    looks.push({ at: Date.now(), disabled });
    return !disabled;
  };
  await look();
  await sf.check(page, 'sale-upcoming');
  await waitFor(look, 'buy button enabled', 30_000);
  const early = looks.filter((l) => l.at < start - 1000);
  expect(early.length).toBeGreaterThan(0);
  expect(early.every((l) => l.disabled)).toBe(true);
  await sf.check(page, 'sale-live');

  await tabTo(page, /Buy now/);
  await page.keyboard.press('Enter');
  const payNow = page.getByRole('button', { name: 'Pay now' });
  await payNow.waitFor({ timeout: 30_000 });
  await expect(page.getByText(/Pay within/).textContent()).resolves.toMatch(/\d\d:\d\d/);
  await sf.check(page, 'sale-pay');
  await tabTo(page, /Pay now/);
  await page.keyboard.press('Enter');
  await page.getByText(/is paid/).waitFor();
  await sf.check(page, 'sale-paid');

  // Back later: the page knows this shopper already holds the order.
  await page.reload();
  await page.getByRole('button', { name: 'Purchased' }).waitFor();
  await page.getByText(/is paid/).waitFor();

  await page.goto(`${sf.base}/#/`);
  await page.reload();
  await page.getByRole('link', { name: /Phone/ }).first().waitFor();
  await sf.check(page, 'sales');

  await page.goto(`${sf.base}/#/orders`);
  await page.getByRole('cell', { name: 'paid' }).waitFor();
  await sf.check(page, 'orders');

  const other = await sf.browser.newContext({ viewport: { width: 1280, height: 900 } });
  await shopper(other);
  const late = await other.newPage();
  await late.goto(`${sf.base}/#/sale/${sale}`);
  await late.getByRole('button', { name: 'Sold out' }).waitFor();
  expect(await late.getByRole('button', { name: 'Sold out' }).isDisabled()).toBe(true);
  await sf.check(late, 'sale-sold-out');
  await other.close();
  await ctx.close();
}, 180_000);

it('follows a moved start (an opening the operator held, then released): the countdown and the button', async () => {
  const ctx = await sf.browser.newContext({ viewport: { width: 1280, height: 900 } });
  await shopper(ctx);
  const page = await ctx.newPage();
  const { name } = await sf.createSale('moved', 600_000, 1, {
    name: 'Tablet',
    originalPrice: '999.00',
    price: '599.00',
  });
  await page.goto(`${sf.base}/#/sale/${name}`);
  await page.getByText(/Starts in (09|10):/).waitFor();
  expect(await buyButton(page).isDisabled()).toBe(true);
  // The opening comes forward (capacity turned ready): the open page reads the activity again by itself.
  const start = await sf.moveSale(name, 20_000);
  await page.getByText(/Starts in 00:[0-2]\d/).waitFor({ timeout: 30_000 });
  expect(await buyButton(page).isDisabled()).toBe(true);
  await waitFor(async () => !(await buyButton(page).isDisabled()), 'buy button enabled', 60_000);
  expect(Date.now()).toBeGreaterThanOrEqual(start - 1_000);
  await ctx.close();
}, 120_000);

it('shows an ended and a paused sale clearly, the buy button disabled', async () => {
  const ended = await createSale(-700_000, 3);
  const paused = await createSale(0, 3, undefined, true);
  const ctx = await sf.browser.newContext({ viewport: { width: 360, height: 780 } });
  await shopper(ctx);
  const page = await ctx.newPage();
  for (const [sale, text, view] of [
    [ended, 'This sale has ended.', 'sale-ended'],
    [paused, 'This sale is paused.', 'sale-paused'],
  ] as const) {
    await page.goto(`${sf.base}/#/sale/${sale}`);
    await page.getByRole('status').filter({ hasText: text }).waitFor();
    expect(await buyButton(page).isDisabled()).toBe(true);
    await sf.check(page, view);
  }
  await ctx.close();
}, 60_000);

it('closes the payment when its deadline passes: no more "Pay now"', async () => {
  const sale = await createSale(0, 3, undefined, false, '5s');
  const ctx = await sf.browser.newContext({ viewport: { width: 1280, height: 900 } });
  await shopper(ctx);
  const page = await ctx.newPage();
  await page.goto(`${sf.base}/#/sale/${sale}`);
  await waitFor(async () => buyButton(page).isEnabled(), 'buy enabled', 30_000);
  await buyButton(page).click();
  await page.getByRole('button', { name: 'Pay now' }).waitFor({ timeout: 30_000 });
  await page.getByText('The payment window has closed.').waitFor({ timeout: 30_000 });
  expect(await page.getByRole('button', { name: 'Pay now' }).count()).toBe(0);
  await sf.check(page, 'sale-payment-closed');
  await ctx.close();
}, 90_000);

it('a shopper on a slow network whose first answer is lost retries with the same key: the same order', async () => {
  const sale = await createSale(0, 5, { required: true });
  const ctx = await sf.browser.newContext({ viewport: { width: 360, height: 780 } });
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
  await page.goto(`${sf.base}/#/sale/${sale}`);
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
  const [cookie] = (await ctx.cookies(`${sf.base}/api/auth/refresh`)).filter(
    (c) => c.name === 'stampede_refresh',
  );
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/api/auth/refresh' });
  const refreshed = await ctx.request.post(`${sf.base}/api/auth/refresh`);
  expect(refreshed.status()).toBe(200);
  const { accessToken } = (await refreshed.json()) as { accessToken: string };
  const orders = await sf.json<{ items: { id: string }[] }>('/api/orders', { token: accessToken });
  expect(orders.items.map((o) => o.id)).toEqual([orderId]);
  await ctx.close();
}, 120_000);

it('a 429 waits for Retry-After and retries by itself with the same key', async () => {
  const sale = await createSale(0, 3);
  const ctx = await sf.browser.newContext({ viewport: { width: 360, height: 780 } });
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
  await page.goto(`${sf.base}/#/sale/${sale}`);
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
      `http://127.0.0.1:${sf.platform.ports.seckill}`,
      '--api-url',
      sf.base,
    ],
    {
      env: { ...process.env, STAMPEDE_PREFIX: sf.platform.prefix, DATABASE_SCHEMA: sf.platform.schema },
      maxBuffer: 8 << 20,
    },
  );
  const summary = JSON.parse(stdout) as {
    invariants: Record<string, number>;
    accepted: number;
    outcomes: Record<string, number>;
    purchaseToken: { mode: string; tokenMs: { p50: number }; solveMs: { p50: number } };
  };
  expect(summary.invariants).toEqual({ oversold: 0, duplicate: 0, lost: 0, unreturned: 0 });
  expect(summary.accepted).toBeGreaterThanOrEqual(20);
  expect(Object.keys(summary.outcomes).filter((o) => o.startsWith('token_'))).toEqual([]);
  expect(summary.purchaseToken.mode).toBe('pow');
  expect(summary.purchaseToken.tokenMs.p50).toBeGreaterThan(0);
  expect(summary.purchaseToken.solveMs.p50).toBeGreaterThan(0);
}, 180_000);
