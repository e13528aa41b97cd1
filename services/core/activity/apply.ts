import type { RedisClient } from '../redis/client.js';
import { QueryTypes, type Sequelize } from 'sequelize';
import { v7 as uuidv7 } from 'uuid';
import { AppError, ErrorCode } from '../errors.js';
import { parseDuration } from './duration.js';
import type { PreheatResult } from './preheat.js';
import { preheatFromPostgres } from './rebuild.js';
import { infoFromSpec, type ActivitySpec } from './spec.js';

export interface ApplyResult {
  activity: string;
  created: boolean;
  /** null when asked not to preheat (the operator registers early and preheats at its lead time). */
  preheat: PreheatResult | null;
}

export interface ApplyOptions {
  preheat?: boolean;
  /** The SeckillActivity applying it (the operator): it claims an unowned activity, and only its own. */
  owner?: { namespace: string; uid: string };
  /** `stampede apply --force`, `?force=true`: change an activity a SeckillActivity owns anyway. */
  force?: boolean;
}

/**
 * What the operator does for one SeckillActivity, once: upsert product and activity in Postgres, then
 * preheat Redis, all inside one transaction that holds the activity's row lock, so a total below what is
 * sold (in Postgres or in Redis) is refused and changes nothing anywhere. Re-applying is idempotent.
 */
export async function applyActivity(
  db: Sequelize,
  redis: RedisClient,
  prefix: string,
  name: string,
  spec: ActivitySpec,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  return db.transaction(async (transaction) => {
    const [product] = await db.query<{ id: string }>(
      `INSERT INTO products (id, sku, name, original_price) VALUES ($1, $2, $3, $4)
       ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, original_price = EXCLUDED.original_price, updated_at = now()
       RETURNING id`,
      {
        bind: [uuidv7(), spec.product.sku, spec.product.name, spec.product.originalPrice ?? null],
        type: QueryTypes.SELECT,
        transaction,
      },
    );
    const [current] = await db.query<{
      id: string;
      sold: number;
      owner_namespace: string | null;
      owner_uid: string | null;
    }>(`SELECT id, sold, owner_namespace, owner_uid FROM seckill_activities WHERE name = $1 FOR UPDATE`, {
      bind: [name],
      type: QueryTypes.SELECT,
      transaction,
    });
    const owner = opts.owner;
    if (current?.owner_uid && (owner ? current.owner_uid !== owner.uid : !opts.force)) {
      throw new AppError(
        ErrorCode.OWNED_BY_CLUSTER,
        `${name} is owned by the SeckillActivity ${current.owner_namespace}/${name}` +
          (owner ? '' : '; change that resource, or force this change'),
        { extra: { owner: { namespace: current.owner_namespace, uid: current.owner_uid } } },
      );
    }
    if (current && spec.stock < current.sold) {
      throw new AppError(
        ErrorCode.STOCK_BELOW_SOLD,
        `stock ${spec.stock} is below the ${current.sold} units already sold for ${name}`,
      );
    }
    const paymentSeconds = Math.ceil((parseDuration(spec.paymentWindow) ?? 0) / 1000);
    await db.query(
      `INSERT INTO seckill_activities (id, name, product_id, total_stock, max_per_user, start_time, end_time,
         payment_window_seconds, price, paused, spec, owner_namespace, owner_uid)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT (name) DO UPDATE SET product_id = EXCLUDED.product_id, total_stock = EXCLUDED.total_stock,
         max_per_user = EXCLUDED.max_per_user, start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time,
         payment_window_seconds = EXCLUDED.payment_window_seconds, price = EXCLUDED.price, paused = EXCLUDED.paused,
         spec = EXCLUDED.spec, updated_at = now(),
         owner_namespace = coalesce(EXCLUDED.owner_namespace, seckill_activities.owner_namespace),
         owner_uid = coalesce(EXCLUDED.owner_uid, seckill_activities.owner_uid)`,
      {
        bind: [
          uuidv7(),
          name,
          product?.id,
          spec.stock,
          spec.maxPerUser,
          spec.window.start,
          spec.window.end,
          Math.max(1, paymentSeconds),
          spec.product.price,
          spec.paused,
          JSON.stringify(spec),
          owner?.namespace ?? null,
          owner?.uid ?? null,
        ],
        transaction,
      },
    );
    // Inside the transaction: if Redis refuses (it has sold more than the new total), nothing commits.
    // A lost Redis state is rebuilt from the orders (activity/rebuild.ts), never re-created as new stock.
    const info = infoFromSpec(name, spec);
    const result =
      opts.preheat === false ? null : await preheatFromPostgres(db, transaction, redis, prefix, info);
    return { activity: name, created: !current, preheat: result };
  });
}
