import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { parseDuration } from '../core/activity/duration.js';
import { activitySpecSchema } from '../core/activity/spec.js';
import { ACTIVITY_NAME } from '../core/redis/keys.js';

export const SAMPLE_USAGE = `usage: stampede sample --starts-in <duration> [options]
  prints a SeckillActivity manifest whose window opens that long from now, e.g.
  npx stampede sample --starts-in 2m | kubectl apply -f -
  --starts-in D   Go duration until the window opens: 90s, 2m, 1h30m (required)
  --lasts D       how long the window stays open (30m)
  --name NAME     the activity id (sample-sale)
  --stock N       units on sale (100)`;

export interface SampleOptions {
  startsInMs: number;
  lastsMs: number;
  name: string;
  stock: number;
}

function duration(v: string | undefined, flag: string, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  const ms = v === undefined ? null : parseDuration(v);
  if (ms === null) throw new Error(`${flag} needs a Go duration such as 90s, 2m or 1h30m`);
  return ms;
}

export function parseSampleOptions(argv: string[]): SampleOptions {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'starts-in': { type: 'string' },
      lasts: { type: 'string' },
      name: { type: 'string' },
      stock: { type: 'string' },
    },
  });
  const name = v.name ?? 'sample-sale';
  if (!ACTIVITY_NAME.test(name)) throw new Error('--name must be a DNS-1123 name');
  const stock = v.stock === undefined ? 100 : Number(v.stock);
  if (!Number.isInteger(stock) || stock < 0) throw new Error('--stock must be a whole number');
  const lastsMs = duration(v.lasts, '--lasts', 30 * 60_000);
  if (lastsMs <= 0) throw new Error('--lasts must be positive');
  return { startsInMs: duration(v['starts-in'], '--starts-in'), lastsMs, name, stock };
}

/**
 * A manifest that works on the day it is printed (k8s/samples/iphone-17-1111.yaml is a calendar sale whose
 * date passes). Seconds are kept whole so the window reads well in `kubectl get ska`.
 */
export function sampleManifest(o: SampleOptions, now = Date.now()): string {
  const start = Math.ceil((now + o.startsInMs) / 1000) * 1000;
  const spec = activitySpecSchema.parse({
    product: {
      sku: `SAMPLE-${o.name.toUpperCase()}`,
      name: 'Sample phone',
      originalPrice: '999.00',
      price: '499.00',
    },
    stock: o.stock,
    maxPerUser: 1,
    window: { start: new Date(start).toISOString(), end: new Date(start + o.lastsMs).toISOString() },
    paymentWindow: '15m',
    preheat: { leadTime: '10m' },
    scaling: {
      leadTime: '5m',
      cooldown: '10m',
      targets: [
        { name: 'stampede-seckill', minReplicas: 4, maxReplicas: 20 },
        { name: 'stampede-orders', minReplicas: 2, maxReplicas: 6 },
      ],
    },
    paused: false,
  });
  const doc = {
    apiVersion: 'stampede.dev/v1alpha1',
    kind: 'SeckillActivity',
    metadata: { name: o.name },
    spec,
  };
  return `# printed by \`stampede sample\` at ${new Date(now).toISOString()}: the window opens ${new Date(start).toISOString()}\n${stringify(doc)}`;
}
