// A short k6 smoke run of loadtest/flash-sale.js (the k6 that `npm run tools` builds) against the platform
// `npm start` runs: its thresholds (no 5xx, p99 bound, zero oversell) decide the exit code.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT_ADMIN, startPlatform, type Platform } from '../helpers/platform.js';

const run = promisify(execFile);
const K6 = new URL('../../.tools/bin/k6', import.meta.url).pathname;
const SCRIPT = new URL('../../loadtest/flash-sale.js', import.meta.url).pathname;
let p: Platform;

beforeAll(async () => {
  p = await startPlatform({ API_AUTH_RATE_PER_MINUTE: '0' });
});
afterAll(async () => {
  await p?.cleanup();
});

it('sells out a small flash sale with no 5xx and no oversell', async () => {
  const env = {
    ...process.env,
    BASE_API: `http://127.0.0.1:${p.ports.api}`,
    BASE_SECKILL: `http://127.0.0.1:${p.ports.seckill}`,
    ADMIN_EMAIL: ROOT_ADMIN.email,
    ADMIN_PASSWORD: ROOT_ADMIN.password,
    USERS: '40',
    STOCK: '20',
    RATE: '40',
    RAMP: '1s',
    DURATION: '3s',
    SETTLE_SECONDS: '2',
    P99_MS: '2000',
    K6_NO_USAGE_REPORT: 'true',
  };
  const r = await run(K6, ['run', '--quiet', '--no-color', SCRIPT], { env, maxBuffer: 16 << 20 }).catch(
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  const out = `${r.stdout}\n${r.stderr}`;
  expect({ code: 'code' in r ? r.code : 0, out: out.slice(-3000) }).toMatchObject({ code: 0 });
  expect(out).toMatch(/oversold/);
}, 120_000);
