// The api's /healthz, /readyz and /metrics on a management port the Ingress never routes (issue 20 point
// 11): the real api (real Postgres and Redis) split over two listeners as main.ts does with MANAGEMENT_PORT.
// On the public port every spelling Express would route to them answers 404; the shop still answers there.
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadApiConfig } from '../../services/api/config.js';
import { buildApi, type Api } from '../../services/api/service.js';
import { closeListener, listenSplit } from '../../services/core/http/management.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { dropRedisPrefix, newRedis, quietLog, randomPrefix } from '../helpers/env.js';

const prefix = randomPrefix('mgmt');
let pg: TestSchema;
let api: Api;
let server: Server;
let management: Server;

/** A raw GET (no URL normalisation by the client): status and body. */
function get(s: Server, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: (s.address() as AddressInfo).port, path, method: 'GET' },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  pg = await testSchema();
  const config = loadApiConfig({
    ...process.env,
    STAMPEDE_PREFIX: prefix,
    DATABASE_SCHEMA: pg.schema,
    MANAGEMENT_PORT: '9090',
  });
  expect(config.managementPort).toBe(9090);
  api = buildApi(config, quietLog);
  await api.start();
  // Ports 0 here (free ones); the chart sets PORT 8080 and MANAGEMENT_PORT 9090.
  const l = await listenSplit(api.app, '127.0.0.1', 0, 0);
  server = l.server;
  management = l.management as Server;
});
afterAll(async () => {
  await closeListener(server);
  await closeListener(management);
  for (const c of api.closers) await c.close().catch(() => undefined);
  const redis = newRedis();
  await dropRedisPrefix(redis, prefix).finally(() => redis.quit());
  await pg.drop();
});

it('binds both listeners to the host it is given (LISTEN_HOST), the management port too', () => {
  expect((server.address() as AddressInfo).address).toBe('127.0.0.1');
  expect((management.address() as AddressInfo).address).toBe('127.0.0.1');
});

it('serves health, readiness and metrics on the management port only', async () => {
  expect(await get(management, '/healthz')).toMatchObject({ status: 200 });
  expect(await get(management, '/readyz')).toMatchObject({ status: 200 });
  const metrics = await get(management, '/metrics');
  expect(metrics.status).toBe(200);
  expect(metrics.body).toMatch(/^# HELP /m);
  // Nothing of the shop on the management port.
  expect((await get(management, '/api/products')).status).toBe(404);
});

it.each(['/metrics', '/METRICS', '/metrics/', '/Metrics?name=x', '/healthz', '/readyz', '/readyz/'])(
  'the public port answers 404 problem+json for %s',
  async (path) => {
    const r = await get(server, path);
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(r.body).not.toMatch(/# HELP|"ready"|"ok"/);
  },
);

it('the public port still serves the shop, and spellings Express does not route stay unrouted', async () => {
  expect((await get(server, '/api/products')).status).toBe(200);
  for (const path of ['/%6detrics', '//metrics', '/metrics.txt']) {
    const r = await get(server, path);
    expect(r.body).not.toMatch(/# HELP/);
  }
});

it('MANAGEMENT_PORT is optional and checked', () => {
  expect(loadApiConfig({}).managementPort).toBeNull();
  expect(() => loadApiConfig({ MANAGEMENT_PORT: 'nine' })).toThrow(/MANAGEMENT_PORT/);
});
