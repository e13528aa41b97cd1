import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler, type Router } from 'express';
import { unavailable } from '../core/errors.js';
import { sendProblem } from '../core/http/problem.js';

/** The page's own policy: the ALTCHA widget runs its proof of work in blob: workers and styles inline. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Where `npm run build` put the storefront (dist/web, with Vite's manifest): beside the compiled api, or,
 * when the api runs from its sources (tests), under the repository's dist/. Null when never built.
 */
export function storefrontDir(): string | null {
  for (const rel of ['../../web/', '../../dist/web/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, '.vite', 'manifest.json'))) return dir;
  }
  return null;
}

/**
 * `/` on the api (DESIGN §8): the built storefront. Asset names carry a content hash, so they are cached
 * for a year; index.html is revalidated every time, so a deploy reaches every shopper on the next load.
 */
export function storefrontRoutes(dir = storefrontDir()): Router {
  const r = express.Router();
  if (!dir) return r;
  r.use(
    express.static(dir, {
      index: 'index.html',
      dotfiles: 'ignore',
      setHeaders(res, path) {
        const hashed = path.startsWith(join(dir, 'assets'));
        res.setHeader('Cache-Control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
        res.setHeader('Content-Security-Policy', CSP);
      },
    }),
  );
  return r;
}

/**
 * Without an Ingress (`npm start`: api and seckill on two ports) the page's `/seckill/…` calls reach the
 * seckill through the api (SECKILL_URL). Behind the chart's Ingress `/seckill` never gets here.
 */
export function seckillProxy(target: string): RequestHandler {
  const t = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  return (req, res) => {
    const upstream = request(
      {
        agent,
        host: t.hostname,
        port: t.port || 80,
        method: req.method,
        path: req.originalUrl,
        headers: { ...req.headers, host: t.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) sendProblem(res, unavailable('the seckill service does not answer', err));
      else res.destroy();
    });
    req.pipe(upstream);
  };
}
