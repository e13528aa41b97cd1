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
  /**
   * The SeckillActivity applying it (the operator): it claims an unowned activity the admin marked
   * adoptable, and only its own. Its product is its namespace's (SKUs are unique per owner).
   */
  owner?: { namespace: string; uid: string };
  /** `stampede apply --force`, `?force=true`: change an activity a SeckillActivity owns anyway. */
  force?: boolean;
  /** `stampede apply --adoptable`, `?adoptable=true`: a SeckillActivity of this name may take it over. */
  adoptable?: boolean;
  /**
   * The operator's opening when it is not window.start (docs/open-when.md): Postgres's start_time and the
   * Redis info's start say it, so the API, the storefront and the hot path all open then. The stored spec
   * keeps the window as written.
   */
  opensAt?: number;
}

/**
 * A SeckillActivity named an activity the admin made and did not mark adoptable (docs/tenancy.md). Only
 * the operator passes an owner, so this never reaches HTTP: the operator reports it as NameConflict.
 */
export class NotAdoptable extends Error {
  readonly code = 'NOT_ADOPTABLE';
  constructor(name: string) {
    super(
      `the activity id ${name} was made through the admin API or stampede apply and is not marked adoptable`,
    );
    this.name = 'NotAdoptable';
  }
}

interface CurrentRow {
  id: string;
  sold: number;
  owner_namespace: string | null;
  owner_uid: string | null;
  adoptable: boolean;
}

/** Refuses what the applier may not change; throws, so the transaction changes nothing. */
function checkClaim(name: string, current: CurrentRow | undefined, opts: ApplyOptions): void {
  if (!current) return;
  const owner = opts.owner;
  if (current.owner_uid && (owner ? current.owner_uid !== owner.uid : !opts.force)) {
    throw new AppError(
      ErrorCode.OWNED_BY_CLUSTER,
      `${name} is owned by the SeckillActivity ${current.owner_namespace}/${name}` +
        (owner ? '' : '; change that resource, or force this change'),
      { extra: { owner: { namespace: current.owner_namespace, uid: current.owner_uid } } },
    );
  }
  if (owner && !current.owner_uid && !current.adoptable) throw new NotAdoptable(name);
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
    const [current] = await db.query<CurrentRow>(
      `SELECT id, sold, owner_namespace, owner_uid, adoptable FROM seckill_activities WHERE name = $1 FOR UPDATE`,
      { bind: [name], type: QueryTypes.SELECT, transaction },
    );
    checkClaim(name, current, opts);
    const owner = opts.owner;
    // The product of the applier's owner (its namespace, or the admin's: NULL): a SKU another owner uses
    // is another product, so nobody rewrites the name or original price shown on someone else's sale.
    const [product] = await db.query<{ id: string }>(
      `INSERT INTO products (id, sku, name, original_price, owner_namespace) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT ((coalesce(owner_namespace, '')), sku)
       DO UPDATE SET name = EXCLUDED.name, original_price = EXCLUDED.original_price, updated_at = now()
       RETURNING id`,
      {
        bind: [
          uuidv7(),
          spec.product.sku,
          spec.product.name,
          spec.product.originalPrice ?? null,
          owner?.namespace ?? null,
        ],
        type: QueryTypes.SELECT,
        transaction,
      },
    );
    if (current && spec.stock < current.sold) {
      throw new AppError(
        ErrorCode.STOCK_BELOW_SOLD,
        `stock ${spec.stock} is below the ${current.sold} units already sold for ${name}`,
      );
    }
    const paymentSeconds = Math.ceil((parseDuration(spec.paymentWindow) ?? 0) / 1000);
    await db.query(
      `INSERT INTO seckill_activities (id, name, product_id, total_stock, max_per_user, start_time, end_time,
         payment_window_seconds, price, paused, spec, owner_namespace, owner_uid, adoptable)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT (name) DO UPDATE SET product_id = EXCLUDED.product_id, total_stock = EXCLUDED.total_stock,
         max_per_user = EXCLUDED.max_per_user, start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time,
         payment_window_seconds = EXCLUDED.payment_window_seconds, price = EXCLUDED.price, paused = EXCLUDED.paused,
         spec = EXCLUDED.spec, updated_at = now(),
         owner_namespace = coalesce(EXCLUDED.owner_namespace, seckill_activities.owner_namespace),
         owner_uid = coalesce(EXCLUDED.owner_uid, seckill_activities.owner_uid), adoptable = EXCLUDED.adoptable`,
      {
        bind: [
          uuidv7(),
          name,
          product?.id,
          spec.stock,
          spec.maxPerUser,
          opts.opensAt === undefined ? spec.window.start : new Date(opts.opensAt).toISOString(),
          spec.window.end,
          Math.max(1, paymentSeconds),
          spec.product.price,
          spec.paused,
          JSON.stringify(spec),
          owner?.namespace ?? null,
          owner?.uid ?? null,
          // What the admin says on each PUT (default: not adoptable); a resource's claim clears it, and
          // releaseOwner sets it when that resource is deleted.
          !owner && opts.adoptable === true,
        ],
        transaction,
      },
    );
    // Inside the transaction: if Redis refuses (it has sold more than the new total), nothing commits.
    // A lost Redis state is rebuilt from the orders (activity/rebuild.ts), never re-created as new stock.
    const info = infoFromSpec(name, spec, opts.opensAt);
    const result =
      opts.preheat === false ? null : await preheatFromPostgres(db, transaction, redis, prefix, info);
    return { activity: name, created: !current, preheat: result };
  });
}
