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

/** A duration that may be zero: a room opening 0s before the start has no pre-queue. */
const offset = z.string().refine((s) => parseDuration(s) !== null, 'a Go duration such as "10m" or "0s"');

/** spec.waitingRoom (docs/waiting-room.md): absent or disabled, the sale has no room. */
export const waitingRoomSchema = z
  .object({
    enabled: z.boolean().default(false),
    opensBefore: offset.default('10m'),
    admitPerSecond: z.number().int().min(1).max(100_000).default(50),
    maxActive: z.number().int().min(1).max(10_000).default(500),
    admissionTtl: duration.default('2m'),
    challenge: z.enum(['none', 'pow']).default('none'),
  })
  .strict();

const msOf = (d: string): number => parseDuration(d) ?? 0;

/** The longest spec.maxOpenDelay: a sale held longer than this is a sale to move, not to hold. */
export const MAX_OPEN_DELAY_MS = 3_600_000;

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
        /** Placeholder pods hold the floor's room from start − capacityLead (docs/capacity.md). */
        capacityLead: duration.default('15m'),
        cooldown: duration.default('10m'),
        targets: z.array(scalingTargetSchema).max(16).default([]),
      })
      .strict()
      .default({}),
    paused: z.boolean().default(false),
    /** docs/open-when.md: capacityReady holds the opening (at most maxOpenDelay) until CapacityReady. */
    openWhen: z.enum(['start', 'capacityReady']).default('start'),
    maxOpenDelay: offset
      .refine((d) => msOf(d) <= MAX_OPEN_DELAY_MS, 'maxOpenDelay must be at most 1h')
      .default('5m'),
    purchaseToken: purchaseTokenSchema.optional(),
    waitingRoom: waitingRoomSchema.optional(),
  })
  .strict()
  .refine((s) => Date.parse(s.window.end) > Date.parse(s.window.start), {
    message: 'window.end must be after window.start',
    path: ['window', 'end'],
  })
  // The room lives in Redis, which holds nothing of the sale before the preheat.
  .refine((s) => !s.waitingRoom?.enabled || msOf(s.waitingRoom.opensBefore) <= msOf(s.preheat.leadTime), {
    message: 'waitingRoom.opensBefore must be <= preheat.leadTime',
    path: ['waitingRoom', 'opensBefore'],
  })
  // Placeholders make room for the floor: they must come before it, never after.
  .refine((s) => msOf(s.scaling.capacityLead) >= msOf(s.scaling.leadTime), {
    message: 'scaling.capacityLead must be >= scaling.leadTime',
    path: ['scaling', 'capacityLead'],
  })
  // A held opening must still open inside the window (only checked where it can hold: capacityReady).
  .refine(
    (s) =>
      s.openWhen !== 'capacityReady' ||
      Date.parse(s.window.start) + msOf(s.maxOpenDelay) < Date.parse(s.window.end),
    { message: 'window.start + maxOpenDelay must be before window.end', path: ['maxOpenDelay'] },
  );

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
  /** Present only when the sale has a waiting room (then purchaseToken is too: the admission's token). */
  waitingRoom?: RoomRule;
}

export interface RoomRule {
  opensBeforeMs: number;
  admitPerSecond: number;
  maxActive: number;
  admissionTtlMs: number;
  challenge: 'none' | 'pow';
  /** The ALTCHA work a pow join costs: purchaseToken's difficulty. */
  difficulty: number;
}

export interface TokenRule {
  challenge: 'none' | 'pow';
  difficulty: number;
}

/**
 * `opensAt`: when the purchase path opens, if not at window.start (the operator's decision for
 * `openWhen: capacityReady`, docs/open-when.md); the hot path knows only this start.
 */
export function infoFromSpec(name: string, spec: ActivitySpec, opensAt?: number): ActivityInfo {
  const info: ActivityInfo = {
    name,
    total: spec.stock,
    startMs: opensAt ?? Date.parse(spec.window.start),
    endMs: Date.parse(spec.window.end),
    maxPerUser: spec.maxPerUser,
    price: spec.product.price,
    paused: spec.paused,
  };
  const t = spec.purchaseToken;
  // Only a required token is hot-path information; the field stays absent otherwise (the operator
  // compares what it reads back from Redis with this, key for key).
  if (t?.required) info.purchaseToken = { challenge: t.challenge, difficulty: t.difficulty };
  const room = spec.waitingRoom;
  if (room?.enabled) {
    const difficulty = t?.difficulty ?? DEFAULT_DIFFICULTY;
    // A room sale is bought only with the token its admission hands out; the work (if any) is the join's.
    info.purchaseToken = { challenge: 'none', difficulty };
    info.waitingRoom = {
      // Whole ms (Redis holds integers); a positive TTL never rounds down to none.
      opensBeforeMs: Math.ceil(msOf(room.opensBefore)),
      admitPerSecond: room.admitPerSecond,
      maxActive: room.maxActive,
      admissionTtlMs: Math.max(1, Math.ceil(msOf(room.admissionTtl))),
      challenge: room.challenge,
      difficulty,
    };
  }
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

/**
 * The info hash's `room` field: "" (no room) or
 * "<opensBeforeMs>:<admitPerSecond>:<maxActive>:<admissionTtlMs>:<challenge>".
 */
export function encodeRoomRule(rule: RoomRule | undefined): string {
  if (!rule) return '';
  const r = rule;
  return `${r.opensBeforeMs}:${r.admitPerSecond}:${r.maxActive}:${r.admissionTtlMs}:${r.challenge}`;
}

/**
 * The `room` field back; the difficulty is not in it but in the `token` field (a room sale always has
 * one), so the caller passes that. Undefined for "" or a field this code cannot read.
 */
export function decodeRoomRule(
  field: string | undefined,
  difficulty = DEFAULT_DIFFICULTY,
): RoomRule | undefined {
  const m = field ? /^(\d+):(\d+):(\d+):(\d+):(none|pow)$/.exec(field) : null;
  if (!m) return undefined;
  return {
    opensBeforeMs: Number(m[1]),
    admitPerSecond: Number(m[2]),
    maxActive: Number(m[3]),
    admissionTtlMs: Number(m[4]),
    challenge: m[5] as RoomRule['challenge'],
    difficulty,
  };
}
