import { ConfigError, DEV_JWT_SECRET } from './config.js';
import { loadSeckillConfig } from '../seckill/config.js';

describe('config', () => {
  it('applies the defaults of DESIGN §3', () => {
    const c = loadSeckillConfig({});
    expect(c).toMatchObject({
      port: 8081,
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/stampede',
      redisUrl: 'redis://127.0.0.1:6379',
      amqpUrl: 'amqp://guest:guest@127.0.0.1:5672',
      prefix: 'stampede',
      trustProxyHops: 0,
      jwtSecret: DEV_JWT_SECRET,
    });
  });

  it('fails fast naming every bad variable at once', () => {
    let err: unknown;
    try {
      loadSeckillConfig({
        PORT: 'eighty',
        REDIS_URL: 'http://x',
        SECKILL_RATE_PER_IP: '-1',
        STAMPEDE_PREFIX: 'bad{prefix}',
        NODE_ENV: 'production',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'REDIS_URL', 'SECKILL_RATE_PER_IP', 'STAMPEDE_PREFIX', 'JWT_SECRET']) {
      expect(problems).toContain(name);
    }
    expect((err as ConfigError).problems).toHaveLength(5);
  });

  it('refuses a short JWT secret and accepts 0 to turn a rate limit off', () => {
    expect(() => loadSeckillConfig({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET/);
    expect(loadSeckillConfig({ SECKILL_RATE_GLOBAL: '0' }).rateGlobal).toBe(0);
  });
});
