// The whole platform as `npm start` runs it (separate, supervised processes), from register to a paid
// order; a killed service is restarted; Ctrl-C (SIGINT) stops everything cleanly.
import { waitFor } from '../helpers/env.js';
import { ROOT_ADMIN as ADMIN, startPlatform, type Platform } from '../helpers/platform.js';
import { call } from '../helpers/seckill.js';

describe('npm start', () => {
  let p: Platform;
  let ports: Platform['ports'];
  beforeAll(async () => {
    p = await startPlatform();
    ports = p.ports;
  });
  afterAll(async () => {
    await p?.cleanup();
  });

  it('prints the URLs, and takes a shopper from register to a paid order', async () => {
    expect(p.output()).toMatch(new RegExp(`api\\s+http://127.0.0.1:${ports.api}`));
    expect(p.output()).toMatch(new RegExp(`seckill\\s+http://127.0.0.1:${ports.seckill}`));
    const api = `http://127.0.0.1:${ports.api}`;
    const seckill = `http://127.0.0.1:${ports.seckill}`;
    const admin = String((await call(api, '/api/auth/login', { body: ADMIN })).body.accessToken);
    const now = Date.now();
    const put = await call(api, '/api/admin/activities/e2e-sale', {
      method: 'PUT',
      token: admin,
      body: {
        product: { sku: 'E2E-1', name: 'End to end', price: '19.90' },
        stock: 3,
        window: { start: new Date(now - 1000).toISOString(), end: new Date(now + 600_000).toISOString() },
        paymentWindow: '10m',
      },
    });
    expect(put.status).toBe(201);

    const email = `shopper-${Date.now()}@stampede.test`;
    expect(
      (await call(api, '/api/auth/register', { body: { email, password: 'a-long-enough-passphrase' } }))
        .status,
    ).toBe(201);
    // npm start has no SMTP server: the api logs the verification link, and the shopper follows it.
    const link = await waitFor(
      () => new RegExp(`"to":"${email}","link":"(http[^"]+)"`).exec(p.output())?.[1],
      'the verification link in the log',
    );
    expect((await fetch(link, { redirect: 'manual' })).headers.get('location')).toBe('/#/verified');
    const token = String(
      (await call(api, '/api/auth/login', { body: { email, password: 'a-long-enough-passphrase' } })).body
        .accessToken,
    );
    const bought = await call(seckill, '/seckill/e2e-sale', { token, body: {} });
    expect(bought.status).toBe(202);
    const orderId = String(bought.body.orderId);
    await waitFor(
      async () => (await call(api, `/api/orders/${orderId}`, { token })).status === 200,
      'the order in the API',
    );
    expect((await call(api, `/api/orders/${orderId}/pay`, { method: 'POST', token })).body).toEqual({
      status: 'paid',
    });
    expect((await call(seckill, '/seckill/e2e-sale/result', { token })).body).toEqual({
      orderId,
      status: 'paid',
    });
    expect((await call(api, '/api/activities/e2e-sale')).body).toMatchObject({
      stock: { total: 3, remaining: 2, sold: 1 },
    });
  });

  it('restarts a service that dies, and stops everything on SIGINT', async () => {
    const pid = Number(/seckill started \(pid (\d+)\)/.exec(p.output())?.[1]);
    process.kill(pid, 'SIGKILL');
    await waitFor(
      () => /seckill exited \(SIGKILL\); restarting/.test(p.output()),
      'the supervisor to notice',
    );
    await waitFor(
      async () => {
        const m = [...p.output().matchAll(/seckill started \(pid (\d+)\)/g)];
        return (
          m.length === 2 &&
          (await fetch(`http://127.0.0.1:${ports.seckill}/readyz`).then(
            (r) => r.ok,
            () => false,
          ))
        );
      },
      'seckill back',
      30_000,
    );
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
    for (const port of Object.values(ports)) {
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    }
  });
});

it('leaves no service behind when the supervisor itself is SIGKILLed', async () => {
  const q = await startPlatform();
  try {
    q.child.kill('SIGKILL');
    for (const port of Object.values(q.ports)) {
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${port}/healthz`).then(
            () => false,
            () => true,
          ),
        `port ${port} closed`,
      );
    }
  } finally {
    await q.cleanup();
  }
}, 60_000);
