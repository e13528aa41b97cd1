import type { z } from 'zod';
import { AppError, ErrorCode } from '../core/errors.js';

/** The one way request input is checked: zod, with every problem listed under `errors`. */
export function parse<S extends z.ZodTypeAny>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new AppError(ErrorCode.VALIDATION_FAILED, 'the request is not valid', {
    extra: { errors: r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
  });
}
