import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, ErrorCode, isAppError, unavailable } from '../errors.js';
import type { Logger } from '../log.js';

export const PROBLEM_TYPE_BASE = 'https://stampede.dev/problems/';

export function problemBody(e: AppError): string {
  return JSON.stringify({
    type: PROBLEM_TYPE_BASE + e.code.toLowerCase().replace(/_/g, '-'),
    title: e.title,
    status: e.httpStatus,
    detail: e.message,
    code: e.code,
    ...e.extra,
  });
}

/** A JSON answer written with node's own response calls (no content negotiation, no ETag). */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/**
 * Each error's body and its length, made once per error object: the answers given most (SOLD_OUT, a
 * limit) are the same frozen errors again and again, and an AppError never changes after it is made.
 */
const bodies = new WeakMap<AppError, { body: string; length: number }>();

/** Written with node's own response calls: the bulk of a flash sale's answers are problems. */
export function sendProblem(res: ServerResponse, e: AppError): void {
  let made = bodies.get(e);
  if (!made) {
    const body = problemBody(e);
    bodies.set(e, (made = { body, length: Buffer.byteLength(body) }));
  }
  const { body, length } = made;
  res.statusCode = e.httpStatus;
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.setHeader('Content-Length', length);
  if (e.retryAfter !== undefined) res.setHeader('Retry-After', String(e.retryAfter));
  res.end(body);
}

const DEPENDENCY_ERROR =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection is closed|MaxRetriesPerRequest|Stream isn't writeable|ConnectionAcquireTimeout|SequelizeConnection/;

/** Turns whatever was thrown into an AppError: typed errors pass, parser and dependency errors are mapped. */
export function toAppError(err: unknown): AppError {
  if (isAppError(err)) return err;
  const e = err as { type?: string; status?: number; message?: string; name?: string; code?: string };
  if (e?.type === 'entity.too.large') {
    return new AppError(ErrorCode.VALIDATION_FAILED, 'request body is too large', { status: 413 });
  }
  if (e?.type === 'entity.parse.failed')
    return new AppError(ErrorCode.VALIDATION_FAILED, 'malformed JSON body');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return new AppError(ErrorCode.VALIDATION_FAILED, 'unsupported body encoding');
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new AppError(ErrorCode.VALIDATION_FAILED, e.message ?? 'bad request');
  }
  if (DEPENDENCY_ERROR.test(`${e?.name ?? ''} ${e?.code ?? ''} ${e?.message ?? ''}`)) {
    return unavailable('a dependency is unavailable', err);
  }
  return new AppError(ErrorCode.INTERNAL, 'internal error', { cause: err });
}

/**
 * The one mapping of an error to its answer: problem+json, 5xx logged with the request id. The error
 * middleware and the seckill's lean purchase handler both answer through it.
 */
export function answerError(
  log: Logger,
  res: ServerResponse,
  err: unknown,
  at: { reqId: string; path: string; ids?: Record<string, string> },
): AppError {
  const e = toAppError(err);
  if (e.httpStatus >= 500) {
    log.error({ reqId: at.reqId, err: e.cause ?? err, code: e.code, path: at.path, ...at.ids }, e.message);
  }
  if (!res.headersSent) sendProblem(res, e);
  return e;
}

/** The one error middleware (see answerError). */
export function problemMiddleware(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    answerError(log, res, err, { reqId: req.id, path: req.path });
  };
}

export const notFoundHandler: RequestHandler = (_req, _res, next) => {
  next(new AppError(ErrorCode.NOT_FOUND, 'no such route'));
};
