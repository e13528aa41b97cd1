/**
 * Typed errors: every failure a client can see carries a stable `code` (DESIGN §4) and the HTTP status it
 * maps to. The one HTTP error middleware (http/problem.ts) turns them into problem+json.
 */
export const ErrorCode = {
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  ACTIVITY_NOT_FOUND: 'ACTIVITY_NOT_FOUND',
  NOT_PURCHASED: 'NOT_PURCHASED',
  NOT_STARTED: 'NOT_STARTED',
  ENDED: 'ENDED',
  SOLD_OUT: 'SOLD_OUT',
  ALREADY_PURCHASED: 'ALREADY_PURCHASED',
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  STOCK_BELOW_SOLD: 'STOCK_BELOW_SOLD',
  OWNED_BY_CLUSTER: 'OWNED_BY_CLUSTER',
  ORDER_CLOSED: 'ORDER_CLOSED',
  EMAIL_TAKEN: 'EMAIL_TAKEN',
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  TOKEN_REQUIRED: 'TOKEN_REQUIRED',
  TOKEN_INVALID: 'TOKEN_INVALID',
  CHALLENGE_FAILED: 'CHALLENGE_FAILED',
  PAYMENT_MISMATCH: 'PAYMENT_MISMATCH',
  EMAIL_NOT_VERIFIED: 'EMAIL_NOT_VERIFIED',
  NOT_IN_QUEUE: 'NOT_IN_QUEUE',
  NOT_ADMITTED: 'NOT_ADMITTED',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ACTIVITY_NOT_FOUND: 404,
  NOT_PURCHASED: 404,
  NOT_STARTED: 409,
  ENDED: 409,
  SOLD_OUT: 409,
  ALREADY_PURCHASED: 409,
  LIMIT_EXCEEDED: 409,
  STOCK_BELOW_SOLD: 409,
  OWNED_BY_CLUSTER: 409,
  ORDER_CLOSED: 409,
  EMAIL_TAKEN: 409,
  INVALID_CREDENTIALS: 401,
  TOKEN_REQUIRED: 403,
  TOKEN_INVALID: 403,
  CHALLENGE_FAILED: 400,
  PAYMENT_MISMATCH: 422,
  EMAIL_NOT_VERIFIED: 403,
  NOT_IN_QUEUE: 404,
  NOT_ADMITTED: 403,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

const TITLE: Record<ErrorCode, string> = {
  VALIDATION_FAILED: 'Invalid request',
  UNAUTHORIZED: 'Authentication required',
  FORBIDDEN: 'Forbidden',
  NOT_FOUND: 'Not found',
  ACTIVITY_NOT_FOUND: 'Activity not found',
  NOT_PURCHASED: 'No purchase for this activity',
  NOT_STARTED: 'Sale has not started',
  ENDED: 'Sale has ended',
  SOLD_OUT: 'Sold out',
  ALREADY_PURCHASED: 'Already purchased',
  LIMIT_EXCEEDED: 'Per-user limit exceeded',
  STOCK_BELOW_SOLD: 'Stock below what is sold',
  OWNED_BY_CLUSTER: 'Activity owned by a SeckillActivity',
  ORDER_CLOSED: 'Order closed',
  EMAIL_TAKEN: 'Email already registered',
  INVALID_CREDENTIALS: 'Invalid credentials',
  TOKEN_REQUIRED: 'Purchase token required',
  TOKEN_INVALID: 'Purchase token invalid',
  CHALLENGE_FAILED: 'Challenge failed',
  PAYMENT_MISMATCH: 'Payment does not match the order',
  EMAIL_NOT_VERIFIED: 'Email address not verified',
  NOT_IN_QUEUE: 'Not in the waiting room',
  NOT_ADMITTED: 'Not admitted from the waiting room',
  RATE_LIMITED: 'Too many requests',
  UNAVAILABLE: 'Service unavailable',
  INTERNAL: 'Internal error',
};

export interface AppErrorOptions {
  /** Seconds, sent as `Retry-After` (429 and 503). */
  retryAfter?: number;
  /** Extra members of the problem document (for example validation details). */
  extra?: Record<string, unknown>;
  cause?: unknown;
  /** Overrides the code's usual status where HTTP has a more exact one (413 for an oversized body). */
  status?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly title: string;
  readonly retryAfter: number | undefined;
  readonly extra: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, detail?: string, options: AppErrorOptions = {}) {
    // These are answers, not bugs: a stack trace would cost more than the sold-out answer itself.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(detail ?? TITLE[code], options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = limit;
    this.name = 'AppError';
    this.code = code;
    this.httpStatus = options.status ?? STATUS[code];
    this.title = TITLE[code];
    this.retryAfter = options.retryAfter;
    this.extra = options.extra;
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

/** A dependency (Redis, RabbitMQ, Postgres) could not serve: always 503 with a retry hint, never a 500. */
export const unavailable = (detail: string, cause?: unknown, retryAfter = 1): AppError =>
  new AppError(ErrorCode.UNAVAILABLE, detail, { retryAfter, cause });
