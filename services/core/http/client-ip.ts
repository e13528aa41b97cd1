import type { IncomingMessage } from 'node:http';

/**
 * The client address as Express computes it with `trust proxy` set to a hop count: the socket's peer,
 * then `X-Forwarded-For` from right to left, trusting `hops` proxies. For the lean handlers that run
 * without Express (the seckill purchase path), so both give a rate limit the same key.
 */
export function clientIp(req: IncomingMessage, hops: number): string {
  const peer = req.socket.remoteAddress ?? '';
  if (hops <= 0) return peer;
  const header = req.headers['x-forwarded-for'];
  if (!header) return peer;
  const chain = (Array.isArray(header) ? header.join(',') : header).split(',');
  // addresses[0] is the peer, addresses[i] the i-th hop counted from us.
  const index = Math.min(hops, chain.length);
  return chain[chain.length - index]?.trim() ?? peer;
}
