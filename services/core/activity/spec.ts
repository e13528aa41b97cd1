import { z } from 'zod';
import { parseDuration } from './duration.js';

/**
 * The SeckillActivity spec (DESIGN §5). The CRD's OpenAPI schema states the same rules for the API
 * server; this schema serves `stampede apply`, the admin API and the operator.
 */
const decimal = z.string().regex(/^\d{1,12}(\.\d{1,2})?$/, 'a decimal string such as "4999.00"');
const duration = z
  .string()
  .refine((s) => (parseDuration(s) ?? 0) > 0, 'a positive Go duration such as "90s" or "15m"');
const instant = z.string().datetime({ offset: true });

export const scalingTargetSchema = z
  .object({
    name: z.string().min(1).max(253),
    minReplicas: z.number().int().min(1),
    maxReplicas: z.number().int().min(1),
  })
  .strict()
  .refine((t) => t.maxReplicas >= t.minReplicas, 'maxReplicas must be >= minReplicas');

export const activitySpecSchema = z
  .object({
    product: z
      .object({
        sku: z.string().min(1).max(64),
        name: z.string().min(1).max(200),
        originalPrice: decimal.optional(),
        price: decimal,
      })
      .strict(),
    stock: z.number().int().min(0).max(100_000_000),
    maxPerUser: z.number().int().min(1).max(1000).default(1),
    window: z.object({ start: instant, end: instant }).strict(),
    paymentWindow: duration.default('15m'),
    preheat: z
      .object({ leadTime: duration.default('10m') })
      .strict()
      .default({}),
    scaling: z
      .object({
        leadTime: duration.default('5m'),
        cooldown: duration.default('10m'),
        targets: z.array(scalingTargetSchema).max(16).default([]),
      })
      .strict()
      .default({}),
    paused: z.boolean().default(false),
  })
  .strict()
  .refine((s) => Date.parse(s.window.end) > Date.parse(s.window.start), {
    message: 'window.end must be after window.start',
    path: ['window', 'end'],
  });

export type ActivitySpec = z.infer<typeof activitySpecSchema>;
export type ActivitySpecInput = z.input<typeof activitySpecSchema>;

/** What the seckill hot path needs to know about an activity, as stored in its Redis info hash. */
export interface ActivityInfo {
  name: string;
  total: number;
  startMs: number;
  endMs: number;
  maxPerUser: number;
  price: string;
  paused: boolean;
}

export function infoFromSpec(name: string, spec: ActivitySpec): ActivityInfo {
  return {
    name,
    total: spec.stock,
    startMs: Date.parse(spec.window.start),
    endMs: Date.parse(spec.window.end),
    maxPerUser: spec.maxPerUser,
    price: spec.product.price,
    paused: spec.paused,
  };
}
