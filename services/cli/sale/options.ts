import { parseArgs } from 'node:util';
import type { TokenMode } from './token.js';

/** `--waiting-room`: the sale's spec.waitingRoom and how the demo's shoppers behave in it. */
export interface RoomOptions {
  /** window.start this far ahead, so most shoppers join the pre-queue (which opens 10 min before). */
  startsInSeconds: number;
  /** Shoppers arrive spread over this long from the run's beginning (a share of them after the start). */
  arrivalSeconds: number;
  admitPerSecond: number;
  maxActive: number;
  admissionTtlSeconds: number;
  /** Share of admitted shoppers who never buy: their slot goes on when the admission expires. */
  noShowShare: number;
}

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
  /** null: the sale has no waiting room (shoppers buy straight away). */
  waitingRoom: RoomOptions | null;
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
  --waiting-room          put a waiting room in front: each shopper joins, polls its place until
                          admitted, then buys once with the admission's purchase token and pays
                          (--pay-share) at once; --duration counts from the start; --requests-per-user
                          and --purchase-token do not apply
    --starts-in S         the sale starts S seconds after the room opens to the crowd (5)
    --arrival S           shoppers arrive spread over S seconds (starts-in × 1.25: most before the start)
    --admit-per-second N  the room's admission rate (20)
    --max-active N        most admitted shoppers holding a slot at once (50)
    --admission-ttl S     how long an admission stays valid (10)
    --no-show-share F     share of admitted shoppers who never buy, 0..1 (0.1)
  --seckill-url URL       (http://127.0.0.1:8081)   --api-url URL (http://127.0.0.1:8080)`;

function share(v: string | undefined, name: string, fallback: number): number {
  const n = v === undefined ? fallback : Number(v);
  if (!(n >= 0 && n <= 1)) throw new Error(`--${name} must be between 0 and 1`);
  return n;
}

type Values = Record<string, string | boolean | undefined>;

function roomOptions(v: Values): RoomOptions | null {
  const s = (name: string) => v[name] as string | undefined;
  const roomFlags = [
    'starts-in',
    'arrival',
    'admit-per-second',
    'max-active',
    'admission-ttl',
    'no-show-share',
  ];
  if (!v['waiting-room']) {
    const stray = roomFlags.find((f) => v[f] !== undefined);
    if (stray) throw new Error(`--${stray} needs --waiting-room`);
    return null;
  }
  if (v['purchase-token'] !== undefined)
    throw new Error('--purchase-token does not apply with --waiting-room: the admission hands out the token');
  const startsInSeconds = int(s('starts-in'), 'starts-in', 5, 1, 600);
  return {
    startsInSeconds,
    arrivalSeconds: int(s('arrival'), 'arrival', Math.ceil(startsInSeconds * 1.25), 0, 3600),
    admitPerSecond: int(s('admit-per-second'), 'admit-per-second', 20, 1, 100_000),
    maxActive: int(s('max-active'), 'max-active', 50, 1, 10_000),
    admissionTtlSeconds: int(s('admission-ttl'), 'admission-ttl', 10, 1, 3600),
    noShowShare: share(s('no-show-share'), 'no-show-share', 0.1),
  };
}

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
      'waiting-room': { type: 'boolean' },
      'starts-in': { type: 'string' },
      arrival: { type: 'string' },
      'admit-per-second': { type: 'string' },
      'max-active': { type: 'string' },
      'admission-ttl': { type: 'string' },
      'no-show-share': { type: 'string' },
    },
  });
  const payShare = share(v['pay-share'], 'pay-share', 0.5);
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
    waitingRoom: roomOptions(v),
  };
}
