// What one confirmed publish costs this process (issue 23): CPU µs per message and per order from
// process.cpuUsage, for single-order messages (awaited one at a time, and 64 in flight as under load) and
// for batches of 50 orders per message. Publishes persistent, mandatory messages with confirms, as the
// seckill does, to a throwaway durable quorum queue under a random prefix, deleted at the end; then consumes
// each run's messages as the orders worker does (prefetch 300, taken apart by services/orders/deliveries.ts,
// one multiple ack per 150 orders) and reports that CPU too. CPU per message is the figure to quote on a
// busy machine: rates move with whatever else runs, CPU time much less.
//
//   node dist/bench/amqp-cost.js [orders=20000] [batch=50] [nagle]
//
// `nagle` leaves Nagle's algorithm on (amqplib's default, and the platform's before issue 23): a message
// above amqplib's 2 KiB single-write threshold then waits for the broker's delayed ACK (~40 ms) before its
// body leaves, which CPU figures do not show but every confirm's wall time does.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { v7 as uuidv7 } from 'uuid';
import { expand } from '../services/orders/deliveries.js';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

interface Figures {
  mode: string;
  messages: number;
  orders: number;
  cpuUsPerMessage: number;
  cpuUsPerOrder: number;
  wallMs: number;
  /** The broker's CPU (beam.smp, from /proc) over the run: anything else using RabbitMQ counts too. */
  brokerUsPerOrder: number | null;
  /** This process' CPU per order to consume, take apart and ack the run's messages, as the worker does. */
  consumeUsPerOrder?: number;
}

/** CPU µs the local RabbitMQ (beam.smp) has used so far, or null when it is not on this machine. */
function brokerCpuUs(): number | null {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(beam.smp)')) continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) * 10_000; // utime + stime in 1/100 s
    } catch {
      // the process went away while we read it
    }
  }
  return null;
}

const order = (i: number) => ({
  orderId: uuidv7(),
  activity: 'amqp-cost',
  userId: `u-${i}`,
  quantity: 1,
  placedAt: new Date().toISOString(),
  requestId: randomBytes(8).toString('hex'),
});

function publishOne(ch: ConfirmChannel, exchange: string, body: Buffer, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    ch.publish(
      exchange,
      'order.placed',
      body,
      {
        persistent: true,
        mandatory: true,
        contentType: n === 1 ? 'application/json' : 'application/vnd.stampede.orders+json',
        messageId: n === 1 ? 'single' : `batch-${uuidv7()}`,
        timestamp: Math.floor(Date.now() / 1000),
        headers: n === 1 ? { 'x-request-id': 'r', 'x-attempt': 0 } : { 'x-orders': n, 'x-attempt': 0 },
      },
      (err) => (err ? reject(new Error(String(err))) : resolve()),
    );
  });
}

/** `messages` publishes of `perMessage` orders each, at most `inFlight` unconfirmed at a time. */
async function run(
  ch: ConfirmChannel,
  exchange: string,
  mode: string,
  messages: number,
  perMessage: number,
  inFlight: number,
): Promise<Figures> {
  // The orders exist before the measure (the purchase made them); their JSON is inside it.
  const all = Array.from({ length: messages * perMessage }, (_, i) => order(i));
  const cpu0 = process.cpuUsage();
  const broker0 = brokerCpuUs();
  const t0 = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < messages) {
      const i = next++;
      const orders = all.slice(i * perMessage, (i + 1) * perMessage);
      const body = Buffer.from(JSON.stringify(perMessage === 1 ? orders[0] : { orders }));
      await publishOne(ch, exchange, body, perMessage);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const cpu = process.cpuUsage(cpu0);
  const broker1 = brokerCpuUs();
  const us = cpu.user + cpu.system;
  return {
    mode,
    messages,
    orders: messages * perMessage,
    cpuUsPerMessage: Math.round(us / messages),
    cpuUsPerOrder: Math.round((us / (messages * perMessage)) * 10) / 10,
    wallMs: Math.round(performance.now() - t0),
    brokerUsPerOrder:
      broker0 === null || broker1 === null ? null : Math.round((broker1 - broker0) / (messages * perMessage)),
  };
}

/** Consumes `messages` deliveries like the worker (without Redis and Postgres): CPU µs per order. */
async function consume(conn: ChannelModel, queue: string, messages: number): Promise<number> {
  const ch = await conn.createChannel();
  await ch.prefetch(300);
  let seen = 0;
  let orders = 0;
  let unacked = 0;
  const cpu0 = process.cpuUsage();
  await new Promise<void>((resolve) => {
    void ch.consume(queue, (m: ConsumeMessage | null) => {
      if (!m) return;
      const parts = expand(m).parts.length;
      orders += parts;
      unacked += parts;
      if (++seen === messages || unacked >= 150) {
        ch.ack(m, true);
        unacked = 0;
      }
      if (seen === messages) resolve();
    });
  });
  const cpu = process.cpuUsage(cpu0);
  await ch.close();
  return Math.round(((cpu.user + cpu.system) / orders) * 10) / 10;
}

async function main(): Promise<void> {
  const orders = Number(process.argv[2] ?? 20_000);
  const batch = Number(process.argv[3] ?? 50);
  const noDelay = process.argv[4] !== 'nagle';
  const prefix = `amqp-cost-${randomBytes(4).toString('hex')}`;
  const conn = await amqp.connect(AMQP_URL, { noDelay });
  console.log(`noDelay: ${noDelay}`);
  const ch = await conn.createConfirmChannel();
  const exchange = `${prefix}.orders`;
  const queue = `${prefix}.orders.placed`;
  try {
    await ch.assertExchange(exchange, 'topic', { durable: true });
    await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await ch.bindQueue(queue, exchange, 'order.placed');
    // Each run's messages are consumed before the next run, so the queue stays short.
    const measure = async (mode: string, messages: number, perMessage: number, inFlight: number) => {
      const f = await run(ch, exchange, mode, messages, perMessage, inFlight);
      return { ...f, consumeUsPerOrder: await consume(conn, queue, messages) };
    };
    // A warm-up so the JIT and the connection's buffers are not measured.
    await measure('warm-up', 500, 1, 64);
    const rows = [
      await measure('single, one at a time', orders, 1, 1),
      await measure('single, 64 in flight', orders, 1, 64),
      await measure(`batch of ${batch}, one at a time`, orders / batch, batch, 1),
      await measure(`batch of ${batch}, 8 in flight`, orders / batch, batch, 8),
    ];
    console.table(rows);
  } finally {
    await ch.deleteQueue(queue).catch(() => undefined);
    await ch.deleteExchange(exchange).catch(() => undefined);
    await conn.close();
  }
}

await main();
