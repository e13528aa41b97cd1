import type { RedisClient } from '../../core/redis/client.js';
import type { Sequelize } from 'sequelize';
import { applyActivity } from '../../core/activity/apply.js';
import { activitySpecSchema } from '../../core/activity/spec.js';
import type { TokenService } from '../../core/auth/jwt.js';
import type { SaleOptions } from './options.js';

export interface Prepared {
  activity: string;
  /** window.start (epoch ms). */
  startMs: number;
  tokens: string[];
  userIds: string[];
}

/**
 * The throwaway activity goes in the way `stampede apply` puts it (Postgres + preheat), and the shoppers in
 * one INSERT: accounts with an unusable password whose access tokens the CLI signs itself with the
 * platform's JWT_SECRET, instead of a thousand register and login round trips through Argon2id.
 */
export async function prepareSale(
  db: Sequelize,
  redis: RedisClient,
  prefix: string,
  tokens: TokenService,
  o: SaleOptions,
): Promise<Prepared> {
  const activity = `sale-${Date.now().toString(36)}`;
  const room = o.waitingRoom;
  // Without a room the sale is on already; with one it starts a few seconds ahead, its pre-queue open now.
  const start = Date.now() + (room ? room.startsInSeconds * 1000 : -1000);
  const spec = activitySpecSchema.parse({
    product: { sku: `DEMO-${activity}`, name: 'Stampede demo', originalPrice: '99.00', price: '9.90' },
    stock: o.stock,
    window: {
      start: new Date(start).toISOString(),
      end: new Date(start + (o.durationSeconds + 600) * 1000).toISOString(),
    },
    paymentWindow: `${o.paymentWindowSeconds}s`,
    ...(room
      ? {
          waitingRoom: {
            enabled: true,
            opensBefore: '10m',
            admitPerSecond: room.admitPerSecond,
            maxActive: room.maxActive,
            admissionTtl: `${room.admissionTtlSeconds}s`,
          },
        }
      : {}),
    ...(o.purchaseToken === 'none'
      ? {}
      : {
          purchaseToken: {
            required: true,
            challenge: o.purchaseToken === 'pow' ? 'pow' : 'none',
            difficulty: o.difficulty,
          },
        }),
  });
  await applyActivity(db, redis, prefix, activity, spec);
  const [rows] = await db.query(
    `INSERT INTO users (id, email, password_hash, role)
     SELECT gen_random_uuid(), $1 || '-' || i || '@sale.stampede.local', '!unusable', 'user' FROM generate_series(1, $2::int) AS i
     RETURNING id`,
    { bind: [activity, o.users] },
  );
  const userIds = (rows as { id: string }[]).map((r) => r.id);
  const signed = await Promise.all(
    userIds.map((userId) => tokens.sign({ userId, role: 'user', emailVerified: true })),
  );
  return { activity, startMs: start, tokens: signed, userIds };
}
