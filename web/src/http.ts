// The storefront's only way to the platform: JSON over fetch, the session (access token in memory, the
// single-use refresh token in an HttpOnly cookie no script here can read, rotated under a cross-tab lock)
// and the server's clock.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly body: Record<string, unknown>,
    readonly retryAfter: number | null,
  ) {
    super(detail);
  }
}

interface Tokens {
  accessToken: string;
  expiresIn: number;
}

// Who is logged in, for the page only (not a credential): the session itself is the refresh cookie.
const EMAIL_KEY = 'stampede.email';
let access: { token: string; until: number } | null = null;
const listeners = new Set<() => void>();

export const session = {
  get email(): string | null {
    return localStorage.getItem(EMAIL_KEY);
  },
  onChange(f: () => void): void {
    listeners.add(f);
  },
};

function changed(): void {
  for (const f of listeners) f();
}

function keep(t: Tokens, email?: string): void {
  access = { token: t.accessToken, until: Date.now() + (t.expiresIn - 30) * 1000 };
  if (email) localStorage.setItem(EMAIL_KEY, email);
}

async function problemOf(r: Response): Promise<ApiError> {
  const body = (await r.json().catch(() => ({}))) as Record<string, unknown>;
  const after = Number(r.headers.get('retry-after'));
  return new ApiError(
    r.status,
    String(body.code ?? `HTTP_${r.status}`),
    String(body.detail ?? body.title ?? r.statusText),
    body,
    Number.isFinite(after) && after >= 0 && r.headers.has('retry-after') ? after : null,
  );
}

/**
 * A refresh token is single use: one tab rotates it at a time, and the next one sends the cookie the
 * browser already holds rotated (two at once would present the same token twice and revoke the family).
 */
async function refreshed(): Promise<string | null> {
  const run = async (): Promise<string | null> => {
    if (access && access.until > Date.now()) return access.token;
    if (!session.email) return null;
    const r = await fetch('/api/auth/refresh', { method: 'POST', credentials: 'same-origin' });
    if (!r.ok) {
      if (r.status === 401) logout();
      return null;
    }
    keep((await r.json()) as Tokens);
    return access?.token ?? null;
  };
  return navigator.locks ? navigator.locks.request('stampede-refresh', run) : run();
}

/** Drops the access token, so the next call refreshes for one that says what the server knows now. */
export function forgetAccess(): void {
  access = null;
}

export async function accessToken(): Promise<string | null> {
  if (access && access.until > Date.now()) return access.token;
  return refreshed();
}

export interface CallInit {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  auth?: boolean;
  signal?: AbortSignal;
}

/** JSON request; a problem+json answer throws ApiError. With `auth`, a 401 refreshes once and retries. */
export async function call<T>(path: string, init: CallInit = {}, retried = false): Promise<T> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.auth) {
    const token = await accessToken();
    if (!token) throw new ApiError(401, 'UNAUTHORIZED', 'Please log in first.', {}, null);
    headers.authorization = `Bearer ${token}`;
  }
  const r = await fetch(path, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
  if (r.status === 401 && init.auth && !retried) {
    access = null;
    return call<T>(path, init, true);
  }
  if (!r.ok) throw await problemOf(r);
  return (r.status === 204 ? {} : await r.json()) as T;
}

export async function login(email: string, password: string): Promise<void> {
  keep(await call<Tokens>('/api/auth/login', { body: { email, password, session: 'cookie' } }), email);
  changed();
}

export async function register(email: string, password: string): Promise<void> {
  await call('/api/auth/register', { body: { email, password } });
  await login(email, password);
}

export function logout(): void {
  access = null;
  // Revokes the cookie's token family and clears the cookie (only the server can: it is HttpOnly).
  void fetch('/api/auth/refresh', { method: 'DELETE', credentials: 'same-origin' }).catch(() => undefined);
  localStorage.removeItem(EMAIL_KEY);
  changed();
}

/** A fetch that carries the access token: what the ALTCHA widget fetches its challenge with. */
export const authedFetch: typeof fetch = async (input, init) => {
  const token = await accessToken();
  const headers = new Headers(init?.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

let offsetMs = 0;

/**
 * The server's clock, NTP-style: the offset from the sample with the shortest round trip, assuming the
 * server read its clock halfway. The device's own clock may be minutes off; the countdown is not.
 */
export async function syncClock(activity: string): Promise<void> {
  let best = Infinity;
  for (let i = 0; i < 4; i++) {
    const t0 = Date.now();
    const r = await call<{ serverTime: number }>(`/seckill/${encodeURIComponent(activity)}/token`).catch(
      () => null,
    );
    const t1 = Date.now();
    if (r && t1 - t0 < best) {
      best = t1 - t0;
      offsetMs = r.serverTime - (t0 + t1) / 2;
    }
  }
}

export const serverNow = (): number => Date.now() + offsetMs;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
