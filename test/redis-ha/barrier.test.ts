// The replica barrier (services/core/redis/barrier.ts) against a real master and replica started here:
// a purchase is answered only once the replica holds it; a stalled replica turns it into an error whose
// restore is repeated until it is replicated; a WAIT re-sent on a new connection does not count.
import { v7 as uuidv7 } from 'uuid';
import { preheat } from '../../services/core/activity/preheat.js';
import { closeRedis, createRedis, type RedisClient } from '../../services/core/redis/client.js';
import { activityKeys, stockEventsChannel } from '../../services/core/redis/keys.js';
import { PurchaseCode, RestoreCode, Scripts } from '../../services/core/redis/scripts.js';
import { quietLog, waitFor } from '../helpers/env.js';
import { RedisServers, type RedisProcess } from '../helpers/redis-servers.js';

const T = 120_000;
const prefix = 'barrier';
const servers = new RedisServers();
let master: RedisProcess;
let replica: RedisProcess;
let redis: RedisClient;
let scripts: Scripts;

beforeAll(async () => {
  master = await servers.start(await servers.port());
  replica = await servers.start(await servers.port(), ['--replicaof', '127.0.0.1', String(master.port)]);
  await waitFor(
    async () => /master_link_status:up/.test(await replica.client().info('replication')),
    'replica in sync',
    30_000,
  );
  redis = client(300);
  scripts = new Scripts(redis);
  const now = Date.now();
  const info = { name: 'a', total: 100, startMs: now - 60_000, endMs: now + 3_600_000, maxPerUser: 1 };
  await preheat(redis, prefix, { ...info, price: '1.00', paused: false });
}, T);
afterAll(async () => {
  replica.proc.kill('SIGCONT');
  await closeRedis(redis);
  await servers.stop();
}, T);

const client = (waitTimeoutMs: number) =>
  createRedis({
    target: { mode: 'single', url: `redis://127.0.0.1:${master.port}`, waitReplicas: 1, waitTimeoutMs },
    log: quietLog,
    name: 'barrier-test',
    autoPipelining: true,
  });
const k = activityKeys(prefix, 'a');
const entryOn = (p: RedisProcess, user: string) => p.client().hget(k.buyers, user);

it(
  'answers a purchase once the replica holds it',
  async () => {
    const orderId = uuidv7();
    const r = await scripts.purchase(k, 'u1', orderId, 1);
    expect(r.code).toBe(PurchaseCode.ACCEPTED);
    // No wait here: the barrier already made sure.
    expect(await entryOn(replica, 'u1')).toBe(`${orderId}:1`);
  },
  T,
);

it(
  'refuses a purchase the replica did not confirm, and gives its unit back once it can',
  async () => {
    replica.proc.kill('SIGSTOP');
    const orderId = uuidv7();
    await expect(scripts.purchase(k, 'u2', orderId, 1)).rejects.toThrow(
      /replication barrier timed out: 0 of 1/,
    );
    expect(await entryOn(master, 'u2')).toBe(`${orderId}:1`);
    const restored = await scripts.restore(k, 'u2', orderId, stockEventsChannel(prefix), 'a');
    expect(restored.code).toBe(RestoreCode.RESTORED);
    replica.proc.kill('SIGCONT');
    await waitFor(
      async () => (await entryOn(replica, 'u2')) === null,
      'the give-back on the replica',
      30_000,
    );
    expect(await master.client().get(k.stock)).toBe('99');
  },
  T,
);

it(
  'does not count a WAIT answered on a new connection',
  async () => {
    // A WAIT that outlasts the cut below, however slow the machine.
    const patient = client(60_000);
    await waitFor(() => patient.status === 'ready', 'client ready');
    replica.proc.kill('SIGSTOP');
    const orderId = uuidv7();
    const bought = new Scripts(patient).purchase(k, 'u3', orderId, 1);
    // The script is answered, its WAIT blocks on the stalled replica: cut the connection under it.
    await waitFor(async () => (await entryOn(master, 'u3')) !== null, 'the script ran');
    await master.client().call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    replica.proc.kill('SIGCONT');
    // ioredis re-sends the WAIT on the new connection, where it passes: it no longer speaks for the script.
    await expect(bought).rejects.toThrow(/connection dropped before the replicas confirmed/);
    await closeRedis(patient);
  },
  T,
);
