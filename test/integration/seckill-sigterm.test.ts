// SIGTERM under load against the built process: readiness flips first, the load balancer (emulated: the
// load stops issuing requests once /readyz fails) drains, every request already sent gets its answer,
// clients close last and the process exits 0. Every 202 is a queued message.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import amqp from 'amqplib';
import type { Redis } from 'ioredis';
import { orderTopology } from '../../services/core/messaging/topology.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { liveActivity } from '../helpers/activity.js';
import {
  AMQP_URL,
  dropAmqpPrefix,
  dropRedisPrefix,
  freePort,
  newRedis,
  randomPrefix,
  tokens,
  waitFor,
} from '../helpers/env.js';
import { call, waitReady } from '../helpers/seckill.js';

const MAIN = new URL('../../dist/services/seckill/main.js', import.meta.url).pathname;

describe('graceful shutdown', () => {
  const prefix = randomPrefix('sigterm');
  let redis: Redis;
  beforeAll(() => {
    redis = newRedis();
  });
  afterAll(async () => {
    await dropAmqpPrefix(prefix);
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
  });

  it('answers every request in flight when SIGTERM arrives under load', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        PORT: String(port),
        STAMPEDE_PREFIX: prefix,
        SHUTDOWN_DELAY_SECONDS: '1',
        LOG_LEVEL: 'warn',
        SECKILL_RATE_GLOBAL: '0',
        SECKILL_RATE_PER_IP: '0',
        SECKILL_RATE_PER_USER: '0',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitReady(url);

    const a = await liveActivity(redis, prefix, { total: 100_000 });
    const users = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => tokens.sign({ userId: `s${i}`, role: 'user' })),
    );
    let routed = true;
    let next = 0;
    const outcomes: (number | string)[] = [];
    const worker = async () => {
      while (routed && next < users.length) {
        const t = users[next++] as string;
        try {
          outcomes.push((await call(url, `/seckill/${a.name}`, { token: t, body: {} })).status);
        } catch (err) {
          outcomes.push(String((err as Error).cause ?? err));
        }
      }
    };
    const load = Promise.all(Array.from({ length: 16 }, worker));
    await waitFor(() => outcomes.length >= 50, 'load to be running');
    child.kill('SIGTERM');
    // The Ingress stops routing once the endpoint is not ready; until then requests keep coming.
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 503, 'readiness to flip');
    routed = false;
    await load;

    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    expect(outcomes.filter((o) => o !== 202)).toEqual([]);
    const accepted = outcomes.length;
    expect(Number(await redis.get(activityKeys(prefix, a.name).stock))).toBe(100_000 - accepted);
    // Orders accepted together share a message (issue 23, `x-orders` of them): count orders, not messages.
    const conn = await amqp.connect(AMQP_URL);
    const ch = await conn.createChannel();
    const queue = orderTopology(prefix).placedQueue;
    let queued = 0;
    await waitFor(async () => {
      // Taken without an ack: each message is counted once, and all go back when the connection closes.
      for (let m = await ch.get(queue); m; m = await ch.get(queue))
        queued += Number(m.properties.headers?.['x-orders'] ?? 1);
      return queued >= accepted;
    }, `${accepted} queued orders`);
    expect(queued).toBe(accepted);
    await conn.close();
  });
});
