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
