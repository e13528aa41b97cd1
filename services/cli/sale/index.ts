import { writeFileSync } from 'node:fs';
import { TokenService } from '../../core/auth/jwt.js';
import type { CommonConfig } from '../../core/config.js';
import { createSequelize } from '../../core/db/connect.js';
import { createLogger } from '../../core/log.js';
import { closeRedis, createRedis } from '../../core/redis/client.js';
import { parseSaleOptions, type SaleOptions } from './options.js';
import { htmlReport } from './report.js';
import { readRoom, runRoomSale } from './room.js';
import { runSale, type SaleRun } from './run.js';
import { prepareSale } from './setup.js';
import { settleSale } from './settle.js';
import { formatSummary, summarize } from './summary.js';

function progressBar(done: number, total: number, run: SaleRun): void {
  if (!process.stderr.isTTY) return;
  const share = total ? done / total : 1;
  const accepted = run.samples.filter((s) => s.outcome === 'accepted').length;
  const remaining = run.stock.at(-1)?.remaining ?? '?';
  const bar = '█'.repeat(Math.round(share * 30)).padEnd(30, '░');
  const what = run.visits ? 'shoppers done' : 'requests';
  process.stderr.write(
    `\r${bar} ${(share * 100).toFixed(0).padStart(3)}%  ${done}/${total} ${what}  accepted ${accepted}  stock ${remaining}   `,
  );
}

function intro(activity: string, o: SaleOptions): string {
  const room = o.waitingRoom;
  if (room)
    return `activity ${activity}: ${o.stock} units, ${o.users} shoppers arriving over ${room.arrivalSeconds} s, the sale starting in ${room.startsInSeconds} s behind a waiting room (${room.admitPerSecond}/s, at most ${room.maxActive} at once), ${o.concurrency} requests at once`;
  const token = o.purchaseToken === 'none' ? '' : `, purchase token ${o.purchaseToken}`;
  return `activity ${activity}: ${o.stock} units, ${o.users} shoppers × ${o.requestsPerUser} attempts, ${o.concurrency} at once${token}`;
}

/** `stampede sale`: a throwaway flash sale against the running platform, then its summary. Exit 1 if an invariant fails. */
export async function runSaleCommand(config: CommonConfig, argv: string[]): Promise<number> {
  const o = parseSaleOptions(argv);
  const log = createLogger('sale', 'warn');
  const db = createSequelize({ url: config.databaseUrl, log, schema: config.databaseSchema });
  const redis = createRedis({ target: config.redis, log, name: 'sale' });
  try {
    const say = (m: string) => o.json || process.stderr.write(`${m}\n`);
    const prepared = await prepareSale(db, redis, config.prefix, new TokenService(config.jwtSecret), o);
    const room = o.waitingRoom;
    say(intro(prepared.activity, o));
    const progress = o.json ? () => undefined : progressBar;
    const run = room
      ? await runRoomSale(
          { ...prepared, seckillUrl: o.seckillUrl, apiUrl: o.apiUrl },
          { ...o, waitingRoom: room },
          progress,
        )
      : await runSale(o.seckillUrl, prepared.activity, prepared.tokens, o, progress);
    if (!o.json && process.stderr.isTTY) process.stderr.write('\n');
    say(
      room
        ? 'waiting for the order pipeline and the unpaid orders to time out…'
        : 'waiting for the order pipeline, paying a share, letting the rest time out…',
    );
    const settled = await settleSale(
      { db, redis, prefix: config.prefix, apiUrl: o.apiUrl },
      prepared.activity,
      run,
      prepared.tokens,
      // Behind a room the shoppers paid during the run (room.ts): nothing is left to pay here.
      { ...o, payShare: room ? 0 : o.payShare, room: room !== null },
    );
    const answer = room ? await readRoom(o.seckillUrl, prepared.activity) : null;
    const summary = summarize(prepared.activity, o, run, settled, answer);
    if (o.report) writeFileSync(o.report, htmlReport(summary, run));
    process.stdout.write(
      o.json
        ? `${JSON.stringify(summary)}\n`
        : `${formatSummary(summary)}\n${o.report ? `report: ${o.report}\n` : ''}`,
    );
    return summary.ok ? 0 : 1;
  } finally {
    await closeRedis(redis);
    await db.close();
  }
}
