import { Router } from 'express';
import type { RedisClient } from '../../core/redis/client.js';
import { getMany } from '../../core/redis/multi-key.js';
import { QueryTypes, type Sequelize } from 'sequelize';
import { z } from 'zod';
import { AppError, ErrorCode } from '../../core/errors.js';
import { activityKeys } from '../../core/redis/keys.js';
import { pageQuery, totalOf, type Page } from '../pagination.js';
import { parse } from '../validate.js';

interface ActivityRow {
  name: string;
  sku: string;
  product_name: string;
  original_price: string | null;
  price: string;
  total_stock: number;
  sold: number;
  max_per_user: number;
  start_time: Date;
  end_time: Date;
  payment_window_seconds: number;
  paused: boolean;
  total: number;
}

const STATUS_SQL = {
  upcoming: 'a.start_time > now()',
  live: 'a.start_time <= now() AND a.end_time > now()',
  ended: 'a.end_time <= now()',
} as const;
const activityQuery = pageQuery.extend({ status: z.enum(['upcoming', 'live', 'ended']).optional() }).strict();
const uuid = z.string().uuid();

const phase = (a: ActivityRow, now: number): string =>
  now < a.start_time.getTime() ? 'upcoming' : now < a.end_time.getTime() ? 'live' : 'ended';

export function catalogRoutes(db: Sequelize, redis: RedisClient, prefix: string): Router {
  const r = Router();

  r.get('/products', async (req, res) => {
    const q = parse(pageQuery, req.query);
    const rows = await db.query<{
      id: string;
      sku: string;
      name: string;
      original_price: string | null;
      total: number;
    }>(
      `SELECT id, sku, name, original_price, count(*) OVER ()::int AS total FROM products
       ORDER BY created_at, id LIMIT $1 OFFSET $2`,
      { bind: [q.pageSize, (q.page - 1) * q.pageSize], type: QueryTypes.SELECT },
    );
    const page: Page<object> = {
      items: rows.map(({ total: _t, original_price, ...p }) => ({ ...p, originalPrice: original_price })),
      page: q.page,
      pageSize: q.pageSize,
      total: await totalOf(rows, q.page, db, 'FROM products'),
    };
    res.json(page);
  });

  r.get('/products/:id', async (req, res) => {
    const id = uuid.safeParse(req.params.id);
    const [p] = id.success
      ? await db.query<{ id: string; sku: string; name: string; original_price: string | null }>(
          'SELECT id, sku, name, original_price FROM products WHERE id = $1',
          { bind: [id.data], type: QueryTypes.SELECT },
        )
      : [];
    if (!p) throw new AppError(ErrorCode.NOT_FOUND, 'no such product');
    res.json({ id: p.id, sku: p.sku, name: p.name, originalPrice: p.original_price });
  });

  const view = async (rows: ActivityRow[]) => {
    const remaining = rows.length
      ? await getMany(
          redis,
          rows.map((a) => activityKeys(prefix, a.name).stock),
        ).catch(() => rows.map(() => null))
      : [];
    const now = Date.now();
    return rows.map((a, i) => ({
      name: a.name,
      product: { sku: a.sku, name: a.product_name, originalPrice: a.original_price },
      price: a.price,
      maxPerUser: a.max_per_user,
      window: { start: a.start_time.toISOString(), end: a.end_time.toISOString() },
      paymentWindowSeconds: a.payment_window_seconds,
      paused: a.paused,
      status: phase(a, now),
      stock: {
        total: a.total_stock,
        remaining: remaining[i] == null ? null : Number(remaining[i]),
        sold: a.sold,
      },
    }));
  };

  const SELECT = `SELECT a.name, p.sku, p.name AS product_name, p.original_price, a.price, a.total_stock, a.sold,
      a.max_per_user, a.start_time, a.end_time, a.payment_window_seconds, a.paused, count(*) OVER ()::int AS total
    FROM seckill_activities a JOIN products p ON p.id = a.product_id`;

  r.get('/activities', async (req, res) => {
    const q = parse(activityQuery, req.query);
    const where = q.status ? `WHERE ${STATUS_SQL[q.status]}` : '';
    const rows = await db.query<ActivityRow>(
      `${SELECT} ${where} ORDER BY a.start_time, a.name LIMIT $1 OFFSET $2`,
      {
        bind: [q.pageSize, (q.page - 1) * q.pageSize],
        type: QueryTypes.SELECT,
      },
    );
    const total = await totalOf(rows, q.page, db, `FROM seckill_activities a ${where}`);
    res.json({ items: await view(rows), page: q.page, pageSize: q.pageSize, total });
  });

  r.get('/activities/:activity', async (req, res) => {
    const rows = await db.query<ActivityRow>(`${SELECT} WHERE a.name = $1`, {
      bind: [String(req.params.activity).slice(0, 253)],
      type: QueryTypes.SELECT,
    });
    if (!rows[0]) throw new AppError(ErrorCode.ACTIVITY_NOT_FOUND);
    res.json((await view(rows))[0]);
  });
  return r;
}
