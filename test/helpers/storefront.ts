// What the storefront's browser tests (test/e2e/storefront*.test.ts) stand on: the platform `npm start`
// runs, mailing its verification links to a real SMTP server (smtp-server) started here, Debian's
// Chromium, sales made through the admin API, shoppers logged in the way the page keeps a session, and
// axe-core with a screenshot at both widths for every view.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.js';
import { ROOT_ADMIN, startPlatform, type Platform } from './platform.js';
import { startMailbox, type Mailbox } from './smtp.js';

export const PASSWORD = 'shopper-password-0123';
const WIDTHS = [360, 1280];
let seq = 0;

/** The page's localStorage, as seen from callbacks that run in the browser. */
export interface Store {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  readonly length: number;
  key(i: number): string | null;
}

export interface Product {
  /** The product's name before the sale's sequence number ("Phone" gives "Phone 3"). */
  name: string;
  originalPrice: string;
  price: string;
}

type SaleBody = { window: { start: string; end: string } } & Record<string, unknown>;

export class Storefront {
  /** What createSale PUT for each sale, so moveSale can PUT it again with another start. */
  private readonly sales = new Map<string, SaleBody>();

  private constructor(
    readonly platform: Platform,
    readonly browser: Browser,
    readonly mailbox: Mailbox,
    readonly base: string,
    private readonly shots: string,
  ) {}

  /** Empties `shots` (the screenshots' folder), then starts the mailbox, the platform and Chromium. */
  static async start(shots: string): Promise<Storefront> {
    rmSync(shots, { recursive: true, force: true });
    mkdirSync(shots, { recursive: true });
    const mailbox = await startMailbox();
    let platform: Platform | undefined;
    try {
      platform = await startPlatform({
        API_AUTH_RATE_PER_MINUTE: '0',
        SECKILL_WORKERS: '1',
        SMTP_URL: mailbox.url,
      });
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      return new Storefront(platform, browser, mailbox, `http://127.0.0.1:${platform.ports.api}`, shots);
    } catch (err) {
      await platform?.cleanup();
      await mailbox.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.browser.close();
    await this.platform.cleanup();
    await this.mailbox.close();
  }

  async json<T>(path: string, init: RequestInit & { token?: string } = {}): Promise<T> {
    const headers = new Headers(init.headers);
    if (init.token) headers.set('authorization', `Bearer ${init.token}`);
    if (init.body) headers.set('content-type', 'application/json');
    const r = await fetch(this.base + path, { ...init, headers });
    const text = await r.text();
    if (!r.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${r.status} ${text}`);
    return JSON.parse(text) as T;
  }

  /**
   * A sale named `<prefix>-…` through the admin API (the same effect as `stampede apply`: preheated at
   * once), open for 10 minutes from `startsInMs` from now, with a 120 s payment window unless `spec` says
   * otherwise; `spec` adds or overrides the rest of the activity's fields.
   */
  async createSale(
    prefix: string,
    startsInMs: number,
    stock: number,
    product: Product,
    spec: object = {},
  ): Promise<{ name: string; start: number }> {
    const name = `${prefix}-${Date.now().toString(36)}-${++seq}`;
    const start = Date.now() + startsInMs;
    const { name: productName, ...prices } = product;
    const body = {
      product: { sku: `SKU-${name}`, name: `${productName} ${seq}`, ...prices },
      stock,
      window: { start: new Date(start).toISOString(), end: new Date(start + 600_000).toISOString() },
      paymentWindow: '120s',
      ...spec,
    };
    await this.putSale(name, body);
    this.sales.set(name, body);
    return { name, start };
  }

  /** The same sale with its start moved to `startsInMs` from now (what a held opening does to Postgres). */
  async moveSale(name: string, startsInMs: number): Promise<number> {
    const body = this.sales.get(name);
    if (!body) throw new Error(`no sale ${name} made here`);
    const start = Date.now() + startsInMs;
    await this.putSale(name, { ...body, window: { ...body.window, start: new Date(start).toISOString() } });
    return start;
  }

  private async putSale(name: string, body: object): Promise<void> {
    const { accessToken } = await this.json<{ accessToken: string }>('/api/auth/login', {
      method: 'POST',
      body: JSON.stringify({ email: ROOT_ADMIN.email, password: ROOT_ADMIN.password }),
    });
    await this.json(`/api/admin/activities/${name}`, {
      method: 'PUT',
      token: accessToken,
      body: JSON.stringify(body),
    });
  }

  /**
   * A shopper `<prefix>-…@example.test` registered through the API, verified by following the mailed
   * link, and logged in the way the page keeps a session: the context's own request client logs in for
   * a cookie (so the browser holds the HttpOnly refresh cookie) and the page remembers who is logged in.
   * `verified` is where the link redirected to.
   */
  async shopper(ctx: BrowserContext, prefix: string): Promise<{ email: string; verified: string | null }> {
    const email = `${prefix}-${Date.now()}-${++seq}@example.test`;
    const body = JSON.stringify({ email, password: PASSWORD });
    await this.json('/api/auth/register', { method: 'POST', body });
    const link = await fetch(await this.mailbox.linkFor(email), { redirect: 'manual' });
    const login = await ctx.request.post(`${this.base}/api/auth/login`, {
      data: { email, password: PASSWORD, session: 'cookie' },
    });
    expect(login.status()).toBe(200);
    await ctx.addInitScript((e) => {
      const store = (globalThis as unknown as { localStorage: Store }).localStorage;
      if (!store.getItem('stampede.email')) store.setItem('stampede.email', e);
    }, email);
    return { email, verified: link.headers.get('location') };
  }

  /**
   * axe-core at both widths (no serious or critical violation) and a screenshot at each; the page is
   * left at the last width unless `restoreViewport`.
   */
  async check(page: Page, view: string, { restoreViewport = false } = {}): Promise<void> {
    const original = page.viewportSize();
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: width < 600 ? 780 : 900 });
      await page.screenshot({ path: join(this.shots, `${view}-${width}.png`), fullPage: true });
      if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(axe.source);
      const result = (await page.evaluate(
        "axe.run(document, { resultTypes: ['violations'] })",
      )) as axe.AxeResults;
      const bad = result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => ({ view, width, id: v.id, nodes: v.nodes.map((n) => n.target.join(' ')) }));
      expect(bad).toEqual([]);
    }
    if (restoreViewport && original) await page.setViewportSize(original);
  }
}

/** The focused element's id and text, or null when nothing has the focus. */
export const focused = (page: Page): Promise<{ id: string; text: string } | null> =>
  page.evaluate(() => {
    const el = (
      globalThis as unknown as { document: { activeElement: { id: string; textContent: string } | null } }
    ).document.activeElement;
    return el ? { id: el.id, text: el.textContent ?? '' } : null;
  });

/** Keyboard only: Tab until the focused element's "id text" matches, as a shopper without a mouse would. */
export async function tabTo(page: Page, target: RegExp): Promise<void> {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    if (target.test(f ? `${f.id} ${f.text}` : '')) return;
  }
  throw new Error(`no focusable element matching ${target} within 40 tabs`);
}
