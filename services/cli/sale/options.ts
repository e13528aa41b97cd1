import { parseArgs } from 'node:util';
import type { TokenMode } from './token.js';

export interface SaleOptions {
  stock: number;
  users: number;
  requestsPerUser: number;
  concurrency: number;
  durationSeconds: number;
  payShare: number;
  paymentWindowSeconds: number;
  /** spec.purchaseToken of the sale: none, required (token only) or pow (token behind an ALTCHA challenge). */
  purchaseToken: TokenMode;
  difficulty: number;
  json: boolean;
  report: string | null;
  seckillUrl: string;
  apiUrl: string;
}

export const SALE_USAGE = `usage: stampede sale [options]   (against the platform \`npm start\` runs)
  --stock N               units on sale (100)
  --users N               shoppers (1000)
  --requests-per-user N   purchase attempts each shopper makes (3)
  --concurrency N         requests in flight at once (64)
  --duration S            stop sending after S seconds (30)
  --pay-share F           share of accepted orders paid, 0..1; the rest time out (0.5)
  --payment-window S      seconds before an unpaid order closes (5)
  --purchase-token M      none | required | pow: the sale needs a purchase token, pow behind a challenge
                          solved in-process (none)
  --difficulty N          proof-of-work difficulty with pow (5000)
  --json                  print one JSON object instead of the text summary
  --report FILE.html      write a self-contained HTML report with charts
  --seckill-url URL       (http://127.0.0.1:8081)   --api-url URL (http://127.0.0.1:8080)`;

function int(v: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
}

export function parseSaleOptions(argv: string[]): SaleOptions {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      stock: { type: 'string' },
      users: { type: 'string' },
      'requests-per-user': { type: 'string' },
      concurrency: { type: 'string' },
      duration: { type: 'string' },
      'pay-share': { type: 'string' },
      'payment-window': { type: 'string' },
      'purchase-token': { type: 'string' },
      difficulty: { type: 'string' },
      json: { type: 'boolean' },
      report: { type: 'string' },
      'seckill-url': { type: 'string' },
      'api-url': { type: 'string' },
    },
  });
  const payShare = v['pay-share'] === undefined ? 0.5 : Number(v['pay-share']);
  if (!(payShare >= 0 && payShare <= 1)) throw new Error('--pay-share must be between 0 and 1');
  const purchaseToken = (v['purchase-token'] ?? 'none') as TokenMode;
  if (!['none', 'required', 'pow'].includes(purchaseToken))
    throw new Error('--purchase-token must be none, required or pow');
  return {
    purchaseToken,
    difficulty: int(v.difficulty, 'difficulty', 5000, 1, 10_000_000),
    stock: int(v.stock, 'stock', 100, 0, 1_000_000),
    users: int(v.users, 'users', 1000, 1, 1_000_000),
    requestsPerUser: int(v['requests-per-user'], 'requests-per-user', 3, 1, 1000),
    concurrency: int(v.concurrency, 'concurrency', 64, 1, 4096),
    durationSeconds: int(v.duration, 'duration', 30, 1, 3600),
    payShare,
    paymentWindowSeconds: int(v['payment-window'], 'payment-window', 5, 1, 3600),
    json: v.json ?? false,
    report: v.report ?? null,
    seckillUrl: (v['seckill-url'] ?? 'http://127.0.0.1:8081').replace(/\/$/, ''),
    apiUrl: (v['api-url'] ?? 'http://127.0.0.1:8080').replace(/\/$/, ''),
  };
}
