// Buying, as a shopper's page must do it during a stampede: one Idempotency-Key per intent, reused on every
// retry of it (a lost answer, a 429 or 503 after its Retry-After), a purchase token when the sale needs one,
// then the order's status polled with back-off until the worker has written it.
import { ApiError, call, sleep } from './http.js';

export interface TokenNeeds {
  required: boolean;
  challenge: 'none' | 'pow';
}

export interface Order {
  id: string;
  activity: string;
  amount: string;
  status: string;
  paymentDeadline: string;
  createdAt: string;
}

export interface BuyHooks {
  /** A short status line for the shopper (announced to screen readers). */
  say(message: string): void;
  /** The ALTCHA payload for a pow sale; called again (for a fresh solution) after a refusal. */
  solve(): Promise<string>;
  /**
   * Where the purchase token comes from instead of `POST …/token`: a waiting room's admission. `fresh`
   * after a refusal spent the last one.
   */
  token?(fresh: boolean): Promise<string>;
}

const ANSWER_TIMEOUT_MS = 15_000;
const path = (activity: string) => `/seckill/${encodeURIComponent(activity)}`;

/** The intent's key survives a reload: retrying after a crash of the page is still the same intent. */
function intentKey(activity: string): string {
  const k = `stampede.intent.${activity}`;
  let key = sessionStorage.getItem(k);
  if (!key) {
    key = crypto.randomUUID();
    sessionStorage.setItem(k, key);
  }
  return key;
}

export const forgetIntent = (activity: string): void =>
  sessionStorage.removeItem(`stampede.intent.${activity}`);

async function fetchToken(activity: string, needs: TokenNeeds, hooks: BuyHooks): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const body = needs.challenge === 'pow' ? { altcha: await hooks.solve() } : undefined;
    try {
      const r = await call<{ token: string }>(`${path(activity)}/token`, {
        method: 'POST',
        body,
        auth: true,
      });
      return r.token;
    } catch (err) {
      // A solution can expire or be spent: solve a fresh challenge, a few times at most.
      if (!(err instanceof ApiError) || err.code !== 'CHALLENGE_FAILED' || attempt >= 2) throw err;
    }
  }
}

const backoff = (attempt: number) => Math.min(5000, 300 * 2 ** attempt) * (0.5 + Math.random() / 2);

/**
 * Places the order and answers its orderId. Refusals a retry cannot change (sold out, ended, already
 * purchased) throw ApiError; everything transient is retried with the same key.
 */
export async function purchase(activity: string, needs: TokenNeeds, hooks: BuyHooks): Promise<string> {
  const key = intentKey(activity);
  let token: string | null = null;
  for (let attempt = 0; ; attempt++) {
    if (needs.required && !token && hooks.token) token = await hooks.token(attempt > 0);
    else if (needs.required && !token) {
      hooks.say('Getting your purchase token…');
      token = await fetchToken(activity, needs, hooks);
    }
    const headers: Record<string, string> = { 'idempotency-key': key };
    if (token) headers['purchase-token'] = token;
    try {
      hooks.say(attempt === 0 ? 'Placing your order…' : 'Still trying, with the same order request…');
      const r = await call<{ orderId: string }>(path(activity), {
        body: {},
        headers,
        auth: true,
        signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
      });
      return r.orderId;
    } catch (err) {
      if (!(err instanceof ApiError)) {
        // The answer was lost (network, timeout): the order may exist; the same key finds it.
        await sleep(backoff(attempt));
        continue;
      }
      if (err.status === 429 || err.status === 503) {
        hooks.say(`Busy — retrying in ${err.retryAfter ?? 1} s…`);
        await sleep((err.retryAfter ?? 1) * 1000);
        continue;
      }
      if (err.code === 'TOKEN_INVALID' || err.code === 'TOKEN_REQUIRED') {
        // Expired or spent (a refusal that reached the stock spends it): the same intent, a new token.
        needs = { ...needs, required: true };
        token = null;
        if (attempt < 5) continue;
      }
      throw err;
    }
  }
}

/** Polls `…/result` (back-off 300 ms → 3 s) until the order is a row, then reads it from the API. */
export async function settledOrder(activity: string, orderId: string): Promise<Order> {
  for (let delay = 300; ; delay = Math.min(3000, delay * 1.5)) {
    const r = await call<{ orderId: string; status: string }>(`${path(activity)}/result`, {
      auth: true,
    }).catch((err: unknown) => {
      if (err instanceof ApiError && err.status < 500 && err.status !== 429) throw err;
      return null;
    });
    if (r && r.status !== 'queued' && r.status !== 'parked') {
      return call<Order>(`/api/orders/${encodeURIComponent(r.orderId || orderId)}`, { auth: true });
    }
    await sleep(delay);
  }
}

/**
 * The simulated payment (PAYMENT_SIMULATION, on in `npm start`). Where it is off the route answers 404 for
 * an order the shopper does own: payment then runs through the provider, and the page says so.
 */
export const pay = (orderId: string): Promise<{ status: string }> =>
  call<{ status: string }>(`/api/orders/${encodeURIComponent(orderId)}/pay`, {
    method: 'POST',
    auth: true,
  }).catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 404)
      throw new ApiError(404, 'PAYMENT_SIMULATION_OFF', NO_SIMULATION, err.body, null);
    throw err;
  });

const NO_SIMULATION = 'This shop takes payment through its payment provider; the demo payment is off here.';
