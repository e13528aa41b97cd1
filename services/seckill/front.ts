import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Express } from 'express';
import { tagRequest, type Readiness } from '../core/http/app.js';
import { clientIp } from '../core/http/client-ip.js';
import type { HotRequest } from './purchase-route.js';

/**
 * The canonical purchase URL: `/seckill/<segment>` (optionally a trailing slash and a query). Anything
 * rarer (percent-encoding, extra segments) is left to Express, whose route runs the same handler.
 */
const PURCHASE = /^\/seckill\/([A-Za-z0-9._~-]+)\/?(?:\?.*)?$/;

export interface FrontOptions {
  express: Express;
  readiness: Readiness;
  trustProxyHops: number;
  purchase: (h: HotRequest) => Promise<void>;
}

/**
 * The seckill process' request listener: the purchase path (nearly every request of a sale) goes straight
 * to its handler on node's own objects; every other route (stock, result, health, metrics) to Express.
 * Profiling put Express' per-request routing and response wrapping at most of the purchase's CPU.
 */
export function frontListener(o: FrontOptions): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const m = req.method === 'POST' ? PURCHASE.exec(req.url ?? '') : null;
    if (m === null) {
      o.express(req, res);
      return;
    }
    const id = tagRequest(req, res, o.readiness);
    const path = (req.url ?? '').split('?', 1)[0] as string;
    void o.purchase({ req, res, name: m[1] as string, id, ip: clientIp(req, o.trustProxyHops), path });
  };
}
