// The waiting room in a real browser (Debian's Chromium, headless, playwright-core) against the platform
// `npm start` runs (docs/waiting-room.md): two shoppers join a room before the start and wait in its
// pre-queue with the seed's commitment on screen; at the start the revealed seed (whose SHA-256 is the
// commitment) puts them in order, one is admitted (maxActive 1), the buy step opens by itself with the
// time left, they buy with the admission's Purchase-Token, and the other is admitted after that purchase
// and buys too. A second sale asks for proof of work at the join, lets an admission run out (expired, the
// next shopper admitted) and tells a waiting shopper "sold out" at once. axe-core finds no serious or
// critical violation in any room state at 360 px and 1280 px; the first shopper uses the keyboard only.
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { waitFor } from '../helpers/env.js';
import { focused, Storefront, tabTo } from '../helpers/storefront.js';

const SHOTS = join(tmpdir(), 'stampede-storefront-room-shots');
let sf: Storefront;

interface Summary {
  state: string;
  commitment: string;
  seed?: string;
}

beforeAll(async () => {
  sf = await Storefront.start(SHOTS);
}, 120_000);
afterAll(async () => {
  await sf?.close();
  console.log(`storefront room screenshots: ${SHOTS}`);
});

/** A sale with a waiting room through the admin API (the effect of `stampede apply`: preheated at once). */
function createRoomSale(startsInMs: number, stock: number, room: object, extra: object = {}) {
  const product = { name: 'Console', originalPrice: '599.00', price: '399.00' };
  const waitingRoom = { enabled: true, admitPerSecond: 1, maxActive: 1, ...room };
  return sf.createSale('room', startsInMs, stock, product, { waitingRoom, ...extra });
}

/** A verified shopper whose browser context holds the refresh cookie (see Storefront.shopper). */
async function shopper(width: number) {
  const ctx = await sf.browser.newContext({ viewport: { width, height: width < 600 ? 780 : 900 } });
  await sf.shopper(ctx, 'waiter');
  return { ctx, page: await ctx.newPage() };
}

/** Each view checked at both widths, the page back at its own width for the shopper's next steps. */
const check = (page: Page, view: string) => sf.check(page, view, { restoreViewport: true });

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
  const before = await sf.json<Summary>(`/seckill/${sale}/queue`);
  expect(before.state).toBe('pre-queue');
  const seenA = watch(a.page, sale);
  const seenB = watch(b.page, sale);

  // A: keyboard only.
  await a.page.goto(`${sf.base}/#/sale/${sale}`);
  await a.page.getByRole('heading', { level: 2, name: 'Waiting room' }).waitFor();
  await a.page.getByText(before.commitment).waitFor();
  await check(a.page, 'room-open');
  await tabTo(a.page, /Join the waiting room/);
  await a.page.keyboard.press('Enter');
  await b.page.goto(`${sf.base}/#/sale/${sale}`);
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
    const s = await sf.json<Summary>(`/seckill/${sale}/queue`);
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
  await waitFor(async () => (await focused(first.page))?.text === 'Buy now', 'focus on Buy now');
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
  const sold = await sf.json<{ stock: { remaining: number } }>(`/api/activities/${sale}`);
  expect(sold.stock.remaining).toBe(0);
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
    await s.page.goto(`${sf.base}/#/sale/${sale}`);
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
