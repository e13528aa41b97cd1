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

/** Work a shopper's browser does for one token: the ALTCHA counter is drawn from [difficulty/2, difficulty]. */
export const DEFAULT_DIFFICULTY = 50_000;

export const purchaseTokenSchema = z
  .object({
    required: z.boolean().default(false),
    challenge: z.enum(['none', 'pow']).default('none'),
    difficulty: z.number().int().min(1).max(10_000_000).default(DEFAULT_DIFFICULTY),
  })
  .strict()
  .refine((t) => t.challenge === 'none' || t.required, {
    message: 'challenge pow needs required: true',
    path: ['challenge'],
  });

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
    purchaseToken: purchaseTokenSchema.optional(),
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
  /** Present only when the sale requires a purchase token (absent: exactly the behaviour without tokens). */
  purchaseToken?: TokenRule;
}

export interface TokenRule {
  challenge: 'none' | 'pow';
  difficulty: number;
}

export function infoFromSpec(name: string, spec: ActivitySpec): ActivityInfo {
  const info: ActivityInfo = {
    name,
    total: spec.stock,
    startMs: Date.parse(spec.window.start),
    endMs: Date.parse(spec.window.end),
    maxPerUser: spec.maxPerUser,
    price: spec.product.price,
    paused: spec.paused,
  };
  const t = spec.purchaseToken;
  // Only a required token is hot-path information; the field stays absent otherwise (the operator
  // compares what it reads back from Redis with this, key for key).
  if (t?.required) info.purchaseToken = { challenge: t.challenge, difficulty: t.difficulty };
  return info;
}

/** The info hash's `token` field: "" (no token needed) or "<challenge>:<difficulty>". */
export function encodeTokenRule(rule: TokenRule | undefined): string {
  return rule ? `${rule.challenge}:${rule.difficulty}` : '';
}

export function decodeTokenRule(field: string | undefined): TokenRule | undefined {
  if (!field) return undefined;
  const [challenge, n] = field.split(':');
  const difficulty = Number(n);
  return {
    challenge: challenge === 'none' ? 'none' : 'pow',
    difficulty: Number.isInteger(difficulty) && difficulty > 0 ? difficulty : DEFAULT_DIFFICULTY,
  };
}
