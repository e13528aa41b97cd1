import { QueryTypes, type Sequelize } from 'sequelize';
import { z } from 'zod';

export const pageQuery = z
  .object({
    page: z.coerce.number().int().min(1).max(10_000).default(1),
    pageSize: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();

export interface Page<T> {
  items: T[];
  page: number;
  pageSize: number;
  total: number;
}

/**
 * The list's total: lists read it from `count(*) OVER ()` on their page; a page past the end has no row to
 * carry it, so then it is counted with the list's own FROM/WHERE.
 */
export async function totalOf(
  rows: { total: number }[],
  page: number,
  db: Sequelize,
  countSql: string,
  bind: unknown[] = [],
): Promise<number> {
  if (rows[0]) return rows[0].total;
  if (page === 1) return 0;
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n ${countSql}`, {
    bind,
    type: QueryTypes.SELECT,
  });
  return row?.n ?? 0;
}
