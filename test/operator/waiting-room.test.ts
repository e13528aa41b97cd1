// A SeckillActivity with a waiting room (issue 21) against a real kube-apiserver, Redis and Postgres: the
// preheat writes the room rule and a seed with its commitment (verified by read-back: Preheated=True), the
// status follows the room's counts in Redis, and deleting the resource removes every room key and the
// sale's rooms-index entry.
import { createHash } from 'node:crypto';
import { activityKeys, roomsIndexKey } from '../../services/core/redis/keys.js';
import { waitFor } from '../helpers/env.js';
import { operatorEnv, saleSpec, type Cluster, type OperatorEnv } from '../helpers/operator.js';

let oe: OperatorEnv;
let cluster: Cluster;

beforeAll(async () => {
  oe = await operatorEnv('room');
  cluster = await oe.namespace('room');
  await oe.operator(cluster.ns);
}, 120_000);
afterAll(async () => {
  await oe?.stop();
});

/** A sale 10 minutes ahead, preheated at once (lead 1h), so the operator refreshes its status often. */
const sale = (waitingRoom?: Record<string, unknown>) => ({
  ...saleSpec({ startInMs: 600_000, lengthMs: 600_000, stock: 5, preheatLead: '1h' }),
  ...(waitingRoom ? { waitingRoom } : {}),
});

const roomOf = async (name: string) =>
  (await cluster.get(name))?.status?.waitingRoom as Record<string, number> | undefined;

it('preheats the room, reports its counts, and removes every room key with the resource', async () => {
  const { redis, prefix } = oe;
  const k = activityKeys(prefix, 'queued-drop');
  await cluster.create('queued-drop', sale({ enabled: true, opensBefore: '5m', admitPerSecond: 20 }));
  await cluster.waitPhase('queued-drop', 'Ready');
  const preheated = (await cluster.get('queued-drop'))?.status?.conditions?.find(
    (c) => c.type === 'Preheated',
  );
  expect(preheated).toMatchObject({ status: 'True', reason: 'Preheated' });

  expect(await redis.hget(k.info, 'room')).toBe('300000:20:500:120000:none');
  expect(await redis.hget(k.info, 'token')).toBe('none:50000');
  const { seed, commit } = await redis.hgetall(k.room);
  expect(seed).toMatch(/^[0-9a-f]{64}$/);
  expect(commit).toBe(
    createHash('sha256')
      .update(seed as string)
      .digest('hex'),
  );
  const end = Date.parse(((await cluster.get('queued-drop'))?.spec.window as { end: string }).end);
  expect(await redis.zscore(roomsIndexKey(prefix), 'queued-drop')).toBe(String(end));
  await waitFor(
    async () =>
      JSON.stringify(await roomOf('queued-drop')) === JSON.stringify({ active: 0, admitted: 0, waiting: 0 }),
    'an empty room in the status',
  );

  // What joins and admissions would have written (the room's scripts are not under test here).
  await redis.zadd(k.queue, 1, 't1', 2, 't2', 3, 't3');
  await redis.zadd(k.passes, Date.now() + 60_000, 'u4', Date.now() + 60_000, 'u5');
  await redis.hset(k.room, 'admitted', '4');
  await redis.hset(k.members, 'u1', 't1');
  await redis.set(k.roomLease, 'someone');
  await redis.hset(k.tickets, 't1', 'u1|1');
  await redis.sadd(k.prequeue, 't1');
  await redis.hset(k.admits, 'u4', String(Date.now() + 60_000));
  await waitFor(
    async () =>
      JSON.stringify(await roomOf('queued-drop')) === JSON.stringify({ active: 2, admitted: 4, waiting: 3 }),
    'the room counts in the status',
  );
  await redis.zrem(k.queue, 't1');
  await waitFor(
    async () => (await roomOf('queued-drop'))?.waiting === 2,
    'the queue shrinking in the status',
  );

  await cluster.remove('queued-drop');
  await waitFor(async () => (await cluster.get('queued-drop')) === null, 'the resource gone');
  const roomKeys = [k.room, k.queue, k.tickets, k.members, k.prequeue, k.passes, k.admits, k.roomLease];
  expect(await redis.exists(...roomKeys, k.stock, k.info)).toBe(0);
  expect(await redis.zscore(roomsIndexKey(prefix), 'queued-drop')).toBeNull();
}, 90_000);

it('reports no room for a sale without one, or with a disabled one', async () => {
  const { redis, prefix } = oe;
  await cluster.create('plain-drop', sale());
  await cluster.create('off-drop', sale({ enabled: false, opensBefore: '2h' }));
  await cluster.waitPhase('plain-drop', 'Ready');
  await cluster.waitPhase('off-drop', 'Ready');
  for (const name of ['plain-drop', 'off-drop']) {
    const status = (await cluster.get(name))?.status;
    expect(status?.stock).toMatchObject({ total: 5, remaining: 5 });
    expect(status).not.toHaveProperty('waitingRoom');
    expect(await redis.hget(activityKeys(prefix, name).info, 'room')).toBe('');
    expect(await redis.exists(activityKeys(prefix, name).room)).toBe(0);
    expect(await redis.zscore(roomsIndexKey(prefix), name)).toBeNull();
  }
}, 60_000);
