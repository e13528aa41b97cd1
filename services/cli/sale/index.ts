import { writeFileSync } from 'node:fs';
import { TokenService } from '../../core/auth/jwt.js';
import type { CommonConfig } from '../../core/config.js';
import { createSequelize } from '../../core/db/connect.js';
import { createLogger } from '../../core/log.js';
import { closeRedis, createRedis } from '../../core/redis/client.js';
import { parseSaleOptions } from './options.js';
import { htmlReport } from './report.js';
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
  process.stderr.write(
    `\r${bar} ${(share * 100).toFixed(0).padStart(3)}%  ${done}/${total} requests  accepted ${accepted}  stock ${remaining}   `,
  );
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
    say(
      `activity ${prepared.activity}: ${o.stock} units, ${o.users} shoppers × ${o.requestsPerUser} attempts, ${o.concurrency} at once${o.purchaseToken === 'none' ? '' : `, purchase token ${o.purchaseToken}`}`,
    );
    const run = await runSale(
      o.seckillUrl,
      prepared.activity,
      prepared.tokens,
      o,
      o.json ? () => undefined : progressBar,
    );
    if (!o.json && process.stderr.isTTY) process.stderr.write('\n');
    say('waiting for the order pipeline, paying a share, letting the rest time out…');
    const settled = await settleSale(
      { db, redis, prefix: config.prefix, apiUrl: o.apiUrl },
      prepared.activity,
      run,
      prepared.tokens,
      o,
    );
    const summary = summarize(prepared.activity, o, run, settled);
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
