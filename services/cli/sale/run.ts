import type { Visit } from './room-shopper.js';
import { fetchPurchaseToken, type TokenMode } from './token.js';

export interface Sample {
  /** ms since the sale started */
  t: number;
  ms: number;
  outcome: string;
  orderId?: string;
  user: number;
  /** With a purchase token: the time spent getting it before the purchase, and of that the proof of work. */
  tokenMs?: number;
  solveMs?: number;
}

export interface StockPoint {
  t: number;
  remaining: number;
}

export interface SaleRun {
  samples: Sample[];
  stock: StockPoint[];
  seconds: number;
  /** With --waiting-room: every shopper's visit (room.ts). */
  visits?: Visit[];
}

async function purchase(
  url: string,
  token: string,
  purchaseToken?: string,
): Promise<{ outcome: string; orderId?: string }> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
  };
  if (purchaseToken) headers['purchase-token'] = purchaseToken;
  try {
    const r = await fetch(url, { method: 'POST', headers, body: '{}' });
    const body = (await r.json().catch(() => ({}))) as { orderId?: string; code?: string };
    if (r.status === 202 && body.orderId) return { outcome: 'accepted', orderId: body.orderId };
    return { outcome: (body.code ?? `HTTP_${r.status}`).toLowerCase() };
  } catch {
    return { outcome: 'network_error' };
  }
}

/** One attempt: with a token mode, a fresh token first (a token is spent once it reaches the stock). */
async function attempt(
  url: string,
  jwt: string,
  mode: TokenMode,
): Promise<Omit<Sample, 't' | 'ms' | 'user'>> {
  if (mode === 'none') return purchase(url, jwt);
  const t = await fetchPurchaseToken(url, jwt, mode);
  const cost = { tokenMs: t.ms, solveMs: t.solveMs };
  if (!t.token) return { outcome: t.outcome ?? 'token_refused', ...cost };
  return { ...(await purchase(url, jwt, t.token)), ...cost };
}

/** Records the stock every 200 ms (and calls `tick`, the progress bar) until the interval is cleared. */
export function sampleStock(
  saleUrl: string,
  started: number,
  run: SaleRun,
  tick: () => void,
): NodeJS.Timeout {
  return setInterval(() => {
    void fetch(`${saleUrl}/stock`).then(
      async (r) => {
        const s = (await r.json()) as { remaining?: number };
        if (typeof s.remaining === 'number')
          run.stock.push({ t: performance.now() - started, remaining: s.remaining });
      },
      () => undefined,
    );
    tick();
  }, 200);
}

/**
 * Drives the sale: `concurrency` loops take the next attempt (shoppers in turn, each `requestsPerUser` times)
 * until every attempt is made or the duration is over, while a sampler records the stock every 200 ms.
 */
export async function runSale(
  seckillUrl: string,
  activity: string,
  tokens: string[],
  o: { requestsPerUser: number; concurrency: number; durationSeconds: number; purchaseToken?: TokenMode },
  progress: (done: number, total: number, run: SaleRun) => void,
): Promise<SaleRun> {
  const total = tokens.length * o.requestsPerUser;
  const started = performance.now();
  const deadline = started + o.durationSeconds * 1000;
  const run: SaleRun = { samples: [], stock: [], seconds: 0 };
  const url = `${seckillUrl}/seckill/${activity}`;
  let next = 0;
  const sampler = sampleStock(url, started, run, () => progress(run.samples.length, total, run));
  const worker = async () => {
    while (next < total && performance.now() < deadline) {
      const i = next++;
      const user = i % tokens.length;
      const t0 = performance.now();
      const r = await attempt(url, tokens[user] as string, o.purchaseToken ?? 'none');
      // `ms` is the purchase alone, so a protected sale's latency compares with an open one's.
      const ms = performance.now() - t0 - (r.tokenMs ?? 0);
      run.samples.push({ t: t0 - started, ms, user, ...r });
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, total) }, worker));
  clearInterval(sampler);
  run.seconds = (performance.now() - started) / 1000;
  progress(run.samples.length, total, run);
  return run;
}
