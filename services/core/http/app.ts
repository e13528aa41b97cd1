import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { AppError, ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { notFoundHandler, problemMiddleware, sendProblem } from './problem.js';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
  }
}

/** What `/readyz` asks: every named dependency check must pass and the process must not be draining. */
export class Readiness {
  private draining = false;
  private readonly checks = new Map<string, () => boolean>();

  add(name: string, check: () => boolean): this {
    this.checks.set(name, check);
    return this;
  }

  drain(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Names of what is not ready; empty when ready. */
  failing(): string[] {
    const bad = [...this.checks].filter(([, ok]) => !ok()).map(([name]) => name);
    return this.draining ? ['draining', ...bad] : bad;
  }
}

export interface HttpAppOptions {
  log: Logger;
  registry: Registry;
  readiness: Readiness;
  trustProxyHops: number;
  /** What `/metrics` answers; default this process' registry (a cluster worker asks for all workers'). */
  metrics?: () => Promise<string>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// Unique per process start and counter: as good as a UUID for following a request, and cheaper.
const BOOT = randomBytes(6).toString('base64url');
let seq = 0;

/**
 * The request id (the caller's `X-Request-Id` when well-formed), echoed in the answer; while draining, asks
 * keep-alive clients to reconnect (to another pod). Express routes and the lean seckill handler share it.
 */
export function tagRequest(req: IncomingMessage, res: ServerResponse, readiness: Readiness): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : `${BOOT}-${(++seq).toString(36)}`;
  res.setHeader('X-Request-Id', id);
  if (readiness.isDraining) res.setHeader('Connection', 'close');
  return id;
}

function requestBasics(readiness: Readiness): RequestHandler {
  return (req, res, next) => {
    req.id = tagRequest(req, res, readiness);
    next();
  };
}

/** An Express app with request ids; the service's routes go between this and `finish`. */
export function createHttpApp(o: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // Client IPs come from X-Forwarded-For only through as many proxies as configured (the Ingress).
  app.set('trust proxy', o.trustProxyHops);
  app.use(requestBasics(o.readiness));
  return app;
}

/**
 * Adds health, readiness and metrics (after the service's routes, so the hot path matches first), the 404
 * fallback and the one problem+json error middleware.
 */
export function finish(app: Express, o: HttpAppOptions): Express {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const failing = o.readiness.failing();
    if (failing.length === 0) {
      res.json({ status: 'ready' });
      return;
    }
    sendProblem(
      res,
      new AppError(ErrorCode.UNAVAILABLE, `not ready: ${failing.join(', ')}`, { retryAfter: 1 }),
    );
  });
  app.get('/metrics', async (_req, res, next) => {
    try {
      res.type(o.registry.contentType).send(await (o.metrics ?? (() => o.registry.metrics()))());
    } catch (err) {
      next(err);
    }
  });
  app.use(notFoundHandler);
  app.use(problemMiddleware(o.log));
  return app;
}
