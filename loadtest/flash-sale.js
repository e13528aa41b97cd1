/* global __ENV */
// A flash sale under k6: creates an activity through the admin API, registers shoppers, then fires
// purchases at a ramping arrival rate (open model: a crowd does not wait for answers before clicking).
// Fails if any purchase answers 5xx, if p99 latency exceeds P99_MS, or if Postgres sold more than the
// stock. Settings: see loadtest/README.md.
import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { Counter, Rate } from 'k6/metrics';

const env = (name, fallback) => (__ENV[name] === undefined || __ENV[name] === '' ? fallback : __ENV[name]);
const num = (name, fallback) => Number(env(name, fallback));

const BASE_API = env('BASE_API', 'http://127.0.0.1:8080').replace(/\/$/, '');
const BASE_SECKILL = env('BASE_SECKILL', 'http://127.0.0.1:8081').replace(/\/$/, '');
const USERS = num('USERS', 200);
const STOCK = num('STOCK', 100);
const RATE = num('RATE', 100); // purchases per second at the peak
const RAMP = env('RAMP', '5s');
const DURATION = env('DURATION', '20s');
const P99_MS = num('P99_MS', 500);
const USER_PASSWORD = env('USER_PASSWORD', 'k6-loadtest-password');
const JSON_HEADERS = { 'Content-Type': 'application/json' };

const serverErrors = new Rate('server_errors');
const oversold = new Counter('oversold');
const accepted = new Counter('purchases_accepted');

export const options = {
  setupTimeout: env('SETUP_TIMEOUT', '180s'),
  scenarios: {
    sale: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: num('PRE_VUS', 20),
      maxVUs: num('MAX_VUS', 200),
      stages: [
        { target: RATE, duration: RAMP },
        { target: RATE, duration: DURATION },
      ],
    },
  },
  thresholds: {
    server_errors: ['rate==0'],
    // Only the sale's requests: setup's logins spend Argon2 time on purpose.
    'http_req_duration{scenario:sale}': [`p(99)<${P99_MS}`],
    'checks{scenario:sale}': ['rate==1'],
    oversold: ['count==0'],
  },
};

function seconds(duration) {
  const m = /^(\d+)(ms|s|m|h)$/.exec(duration);
  if (!m) fail(`not a duration: ${duration}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
}

function problemCode(res) {
  try {
    return res.json('code');
  } catch {
    return undefined;
  }
}

// Login and register are limited per client IP (API_AUTH_RATE_PER_MINUTE): wait out a 429 instead of failing.
function postJson(url, body, params = {}) {
  for (let attempt = 0; ; attempt++) {
    const res = http.post(url, JSON.stringify(body), { headers: JSON_HEADERS, ...params });
    if (res.status !== 429 || attempt >= 30) return res;
    sleep(Number(res.headers['Retry-After'] || 1));
  }
}

function login(email, password) {
  const res = postJson(`${BASE_API}/api/auth/login`, { email, password });
  if (res.status !== 200) fail(`login ${email}: ${res.status} ${res.body}`);
  return res.json('accessToken');
}

export function setup() {
  const adminEmail = env('ADMIN_EMAIL', 'admin@stampede.local');
  const adminPassword = env('ADMIN_PASSWORD', '');
  if (!adminPassword) fail('set ADMIN_PASSWORD (and ADMIN_EMAIL) to the admin the api was started with');
  const admin = login(adminEmail, adminPassword);

  // Open a few seconds ago so the first purchase is not NOT_STARTED on a clock a little behind Redis'.
  const now = Date.now();
  const activity = env('ACTIVITY', `k6-${now.toString(36)}`);
  const spec = {
    product: {
      sku: `K6-${activity}`.toUpperCase().slice(0, 64),
      name: `k6 load test ${activity}`,
      price: '9.99',
    },
    stock: STOCK,
    window: {
      start: new Date(now - 5000).toISOString(),
      end: new Date(now + (seconds(RAMP) + seconds(DURATION) + 600) * 1000).toISOString(),
    },
    paymentWindow: '10m',
  };
  const put = http.put(`${BASE_API}/api/admin/activities/${activity}`, JSON.stringify(spec), {
    headers: { ...JSON_HEADERS, Authorization: `Bearer ${admin}` },
  });
  if (put.status !== 200 && put.status !== 201) fail(`PUT activity: ${put.status} ${put.body}`);

  // Fixed emails: a second run reuses the users (409 EMAIL_TAKEN, then login) instead of re-hashing.
  // Only verified addresses buy: the admin verifies the synthetic shoppers in one call, before their logins.
  const emails = Array.from({ length: USERS }, (_, i) => `k6-shopper-${i}@loadtest.stampede.dev`);
  for (const email of emails) {
    const reg = postJson(`${BASE_API}/api/auth/register`, { email, password: USER_PASSWORD });
    if (reg.status !== 201 && reg.status !== 409) fail(`register ${email}: ${reg.status} ${reg.body}`);
  }
  for (let i = 0; i < emails.length; i += 1000) {
    const res = http.post(
      `${BASE_API}/api/admin/users/verify`,
      JSON.stringify({ emails: emails.slice(i, i + 1000) }),
      {
        headers: { ...JSON_HEADERS, Authorization: `Bearer ${admin}` },
      },
    );
    if (res.status !== 200) fail(`verify shoppers: ${res.status} ${res.body}`);
  }
  const tokens = emails.map((email) => login(email, USER_PASSWORD));
  console.log(`activity ${activity}: stock ${STOCK}, ${tokens.length} shoppers`);
  return { activity, tokens };
}

export default function (data) {
  const token = data.tokens[Math.floor(Math.random() * data.tokens.length)];
  const res = http.post(`${BASE_SECKILL}/seckill/${data.activity}`, '{}', {
    headers: { ...JSON_HEADERS, Authorization: `Bearer ${token}` },
    responseCallback: http.expectedStatuses(202, 409, 429),
    tags: { name: 'POST /seckill/:activity' },
  });
  serverErrors.add(res.status >= 500);
  const code = res.status === 202 ? undefined : problemCode(res);
  if (res.status === 202) accepted.add(1);
  check(res, {
    'answer is 202, 409 or 429': (r) => r.status === 202 || r.status === 409 || r.status === 429,
    '202 carries a queued orderId': (r) =>
      r.status !== 202 || (r.json('status') === 'queued' && !!r.json('orderId')),
    '409 is SOLD_OUT or ALREADY_PURCHASED': (r) =>
      r.status !== 409 || code === 'SOLD_OUT' || code === 'ALREADY_PURCHASED',
    '429 is RATE_LIMITED': (r) => r.status !== 429 || code === 'RATE_LIMITED',
  });
}

export function teardown(data) {
  // Postgres' sold trails Redis by the orders still in flight: give the worker a moment to settle.
  sleep(num('SETTLE_SECONDS', 5));
  const res = http.get(`${BASE_API}/api/activities/${data.activity}`);
  if (res.status !== 200) fail(`GET activity: ${res.status} ${res.body}`);
  const stock = res.json('stock');
  console.log(`activity ${data.activity}: ${JSON.stringify(stock)}`);
  oversold.add(Math.max(0, stock.sold - stock.total)); // adds 0 too, so the threshold always has a sample
  check(stock, { 'Postgres sold no more than the stock': (s) => s.sold <= s.total });
}
