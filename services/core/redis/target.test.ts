import { ConfigError } from '../config.js';
import { loadSeckillConfig } from '../../seckill/config.js';
import { describeTarget, parseHostPorts } from './target.js';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadSeckillConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

describe('redis target (REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES)', () => {
  it('is one server by default, without a replica barrier', () => {
    expect(loadSeckillConfig({}).redis).toEqual({
      mode: 'single',
      url: 'redis://127.0.0.1:6379',
      waitReplicas: 0,
      waitTimeoutMs: 500,
    });
  });

  it('takes Sentinels and the master name, waiting for one replica by default', () => {
    const c = loadSeckillConfig({
      REDIS_SENTINELS: 'sentinel-0:26379, [::1]:26380',
      REDIS_SENTINEL_NAME: 'stampede',
      REDIS_PASSWORD: 'pw',
      REDIS_SENTINEL_PASSWORD: 'spw',
    });
    expect(c.redis).toMatchObject({
      mode: 'sentinel',
      name: 'stampede',
      sentinels: [
        { host: 'sentinel-0', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      sentinelPassword: 'spw',
      auth: { password: 'pw', tls: false },
      waitReplicas: 1,
    });
    expect(describeTarget(c.redis)).toBe('sentinel stampede via sentinel-0:26379,::1:26380');
  });

  it('takes cluster nodes', () => {
    const c = loadSeckillConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7000', REDIS_TLS: 'true' });
    expect(c.redis).toMatchObject({ mode: 'cluster', auth: { tls: true }, waitReplicas: 0 });
    expect(c.redis.mode === 'cluster' && c.redis.nodes).toHaveLength(2);
  });

  it('names every bad Redis variable at once', () => {
    const problems = problemsOf({
      REDIS_SENTINELS: 'a:1,b',
      REDIS_CLUSTER_NODES: 'c:99999',
      REDIS_TLS: 'yes',
      REDIS_WAIT_TIMEOUT_MS: '0',
    }).join('\n');
    for (const name of [
      'REDIS_SENTINELS=',
      'REDIS_SENTINELS and REDIS_CLUSTER_NODES',
      'REDIS_SENTINEL_NAME',
      'REDIS_TLS',
      'REDIS_WAIT_TIMEOUT_MS',
    ])
      expect(problems).toContain(name);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'c:7000', REDIS_WAIT_REPLICAS: '1' }).join()).toContain(
      'REDIS_WAIT_REPLICAS',
    );
  });

  it('parses host:port lists strictly', () => {
    expect(parseHostPorts('a:1,b:2')).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ]);
    for (const bad of ['', 'a', 'a:0', 'a:65536', 'a:b', 'http://a:1'])
      expect(parseHostPorts(bad)).toBeNull();
  });
});
