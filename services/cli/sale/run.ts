export interface Sample {
  /** ms since the sale started */
  t: number;
  ms: number;
  outcome: string;
  orderId?: string;
  user: number;
}

export interface StockPoint {
  t: number;
  remaining: number;
}

export interface SaleRun {
  samples: Sample[];
  stock: StockPoint[];
  seconds: number;
}

async function purchase(url: string, token: string): Promise<{ outcome: string; orderId?: string }> {
  try {
    const r = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const body = (await r.json().catch(() => ({}))) as { orderId?: string; code?: string };
    if (r.status === 202 && body.orderId) return { outcome: 'accepted', orderId: body.orderId };
    return { outcome: (body.code ?? `HTTP_${r.status}`).toLowerCase() };
  } catch {
    return { outcome: 'network_error' };
  }
}

/**
 * Drives the sale: `concurrency` loops take the next attempt (shoppers in turn, each `requestsPerUser` times)
 * until every attempt is made or the duration is over, while a sampler records the stock every 200 ms.
 */
export async function runSale(
  seckillUrl: string,
  activity: string,
  tokens: string[],
  o: { requestsPerUser: number; concurrency: number; durationSeconds: number },
  progress: (done: number, total: number, run: SaleRun) => void,
): Promise<SaleRun> {
  const total = tokens.length * o.requestsPerUser;
  const started = performance.now();
  const deadline = started + o.durationSeconds * 1000;
  const run: SaleRun = { samples: [], stock: [], seconds: 0 };
  const url = `${seckillUrl}/seckill/${activity}`;
  let next = 0;
  const sampler = setInterval(() => {
    void fetch(`${url}/stock`).then(
      async (r) => {
        const s = (await r.json()) as { remaining?: number };
        if (typeof s.remaining === 'number')
          run.stock.push({ t: performance.now() - started, remaining: s.remaining });
      },
      () => undefined,
    );
    progress(run.samples.length, total, run);
  }, 200);
  const worker = async () => {
    while (next < total && performance.now() < deadline) {
      const i = next++;
      const user = i % tokens.length;
      const t0 = performance.now();
      const r = await purchase(url, tokens[user] as string);
      run.samples.push({ t: t0 - started, ms: performance.now() - t0, user, ...r });
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, total) }, worker));
  clearInterval(sampler);
  run.seconds = (performance.now() - started) / 1000;
  progress(run.samples.length, total, run);
  return run;
}
