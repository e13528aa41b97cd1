// Each process asks only for the secrets it uses (issue 20 point 3): the orders worker, the operator and
// `stampede migrate` start in production without JWT_SECRET, so a compromised pod of theirs holds no key to
// mint tokens with; the api and seckill still refuse to start without it and name it.
import { ConfigError } from './config.js';
import { loadApiConfig } from '../api/config.js';
import { loadCliConfig, loadSaleConfig } from '../cli/config.js';
import { loadOrdersConfig } from '../orders/config.js';
import { loadSeckillConfig } from '../seckill/config.js';
import { loadOperatorConfig } from '../../operator/config.js';

const production = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://stampede@db:5432/stampede',
  REDIS_URL: 'redis://redis:6379',
  AMQP_URL: 'amqp://stampede:x@rabbitmq:5672',
};

function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

it.each([
  ['orders', () => loadOrdersConfig(production)],
  ['operator', () => loadOperatorConfig(production)],
  ['migrate (cli)', () => loadCliConfig(production)],
])('%s loads in production without JWT_SECRET and holds no signing key', (_name, load) => {
  const config = load();
  expect(config).toMatchObject({ nodeEnv: 'production', prefix: 'stampede' });
  expect(config).not.toHaveProperty('jwtSecret');
  expect(config).not.toHaveProperty('jwtSecretPrevious');
});

it.each([
  ['seckill', () => loadSeckillConfig(production)],
  ['api', () => loadApiConfig({ ...production, PAYMENT_WEBHOOK_SECRET: 'w'.repeat(40) })],
  ['stampede sale', () => loadSaleConfig(production)],
])('%s still refuses to start in production without JWT_SECRET, naming it', (_name, load) => {
  expect(problems(load)).toEqual(['JWT_SECRET: the development default is refused when NODE_ENV=production']);
});

it('the api names every missing secret at once', () => {
  expect(problems(() => loadApiConfig(production)).map((p) => p.split(':')[0])).toEqual([
    'JWT_SECRET',
    'PAYMENT_WEBHOOK_SECRET',
  ]);
});

it('the processes that sign tokens take the key they are given', () => {
  const key = 'k'.repeat(40);
  expect(loadSeckillConfig({ ...production, JWT_SECRET: key }).jwtSecret).toBe(key);
  expect(
    problems(() => loadSaleConfig({ ...production, JWT_SECRET: key, JWT_SECRET_PREVIOUS: 'short' })),
  ).toEqual(['JWT_SECRET_PREVIOUS: must be at least 32 characters']);
});
