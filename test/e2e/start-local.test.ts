// `npm start` is for this machine (issue 20 point 11): every service listens on 127.0.0.1 only unless
// LISTEN_HOST says otherwise, and the secrets the caller did not set are the checkout's generated ones
// (.stampede/secrets.json), so a token or webhook signed with the development defaults printed in the
// source is refused while one signed with the generated secrets is accepted.
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { DEV_WEBHOOK_SECRET } from '../../services/api/config.js';
import { signWebhook } from '../../services/api/webhook.js';
import { TokenService } from '../../services/core/auth/jwt.js';
import { DEV_JWT_SECRET } from '../../services/core/config.js';
import { devSecretsPath, readDevSecrets } from '../../services/core/dev-secrets.js';
import { ROOT_ADMIN as ADMIN, startPlatform, type Platform } from '../helpers/platform.js';
import { call } from '../helpers/seckill.js';

let p: Platform;
beforeAll(async () => {
  // Empty is unset for npm start: whatever the runner's environment holds, the defaults are under test.
  p = await startPlatform({ LISTEN_HOST: '', JWT_SECRET: '', PAYMENT_WEBHOOK_SECRET: '' });
}, 300_000);
afterAll(async () => {
  await p?.cleanup();
});

/** How a TCP connection to host:port ends: connected, or the error code (a generous bound, no sleep). */
function dial(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 10_000 });
    s.once('connect', () => (s.destroy(), resolve('connected')));
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    s.once('timeout', () => (s.destroy(), resolve('timeout')));
  });
}

/** This machine's addresses other than loopback; without any, 127.0.0.2 (Linux routes all of 127/8 to lo). */
function otherAddresses(): string[] {
  const external = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && !a.internal && a.family === 'IPv4')
    .map((a) => a!.address);
  return external.length > 0 ? external : ['127.0.0.2'];
}

it('listens on 127.0.0.1 only: the api, the seckill (its workers) and orders refuse other addresses', async () => {
  const others = otherAddresses();
  for (const port of Object.values(p.ports)) {
    expect(await dial('127.0.0.1', port)).toBe('connected');
    for (const host of others)
      expect(`${host}:${port} ${await dial(host, port)}`).toBe(`${host}:${port} ECONNREFUSED`);
  }
  expect(p.output()).toMatch(`seckill  http://127.0.0.1:${p.ports.seckill}`);
  expect(p.output()).toMatch('listening on 127.0.0.1 only');
});

it('runs with the generated secrets: development-default signatures are refused, generated ones accepted', async () => {
  const file = readDevSecrets(devSecretsPath());
  expect(file).toEqual(p.secrets);
  expect(p.secrets.JWT_SECRET).not.toBe(DEV_JWT_SECRET);
  expect(p.output()).toMatch('JWT_SECRET, PAYMENT_WEBHOOK_SECRET from .stampede/secrets.json');

  const api = `http://127.0.0.1:${p.ports.api}`;
  const seckill = `http://127.0.0.1:${p.ports.seckill}`;
  const admin = String((await call(api, '/api/auth/login', { body: ADMIN })).body.accessToken);
  const now = Date.now();
  const put = await call(api, '/api/admin/activities/local-secrets', {
    method: 'PUT',
    token: admin,
    body: {
      product: { sku: 'LOCAL-1', name: 'Local', price: '1.00' },
      stock: 5,
      window: { start: new Date(now - 1000).toISOString(), end: new Date(now + 600_000).toISOString() },
    },
  });
  expect(put.status).toBe(201);
  const buy = async (secret: string) =>
    call(seckill, '/seckill/local-secrets', {
      token: await new TokenService(secret).sign({ userId: 'local-1', role: 'user' }),
      body: {},
    });
  const forged = await buy(DEV_JWT_SECRET);
  expect([forged.status, forged.body.code]).toEqual([401, 'UNAUTHORIZED']);
  expect((await buy(p.secrets.JWT_SECRET)).status).toBe(202);

  const raw = JSON.stringify({
    eventId: 'evt-local-1',
    type: 'payment.succeeded',
    orderId: '00000000-0000-4000-8000-000000000000',
    amount: '1.00',
    currency: 'CNY',
  });
  const webhook = (secret: string) =>
    call(api, '/api/payments/webhook', {
      raw,
      headers: { 'x-stampede-signature': signWebhook(secret, raw) },
    });
  const forgedEvent = await webhook(DEV_WEBHOOK_SECRET);
  expect([forgedEvent.status, forgedEvent.body.code]).toEqual([401, 'UNAUTHORIZED']);
  // Past the signature check: the order is unknown, which is all a correctly signed event can learn here.
  expect((await webhook(p.secrets.PAYMENT_WEBHOOK_SECRET)).status).not.toBe(401);
}, 300_000);
