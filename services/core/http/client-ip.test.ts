import type { IncomingMessage } from 'node:http';
import express from 'express';
import { clientIp } from './client-ip.js';

const req = (peer: string, xff?: string): IncomingMessage =>
  ({
    socket: { remoteAddress: peer },
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  }) as never;

/** What Express itself computes for the same request and hop count (proxy-addr). */
function expressIp(peer: string, xff: string | undefined, hops: number): string {
  const app = express();
  app.set('trust proxy', hops);
  const r = Object.create(app.request) as { ip: string; app: unknown; socket: unknown; headers: unknown };
  Object.assign(r, { app, socket: { remoteAddress: peer }, connection: { remoteAddress: peer } });
  r.headers = xff === undefined ? {} : { 'x-forwarded-for': xff };
  return r.ip;
}

describe('client address behind proxies', () => {
  const cases: [string, string | undefined, number][] = [
    ['10.0.0.1', undefined, 0],
    ['10.0.0.1', '1.1.1.1', 0],
    ['10.0.0.1', '1.1.1.1', 1],
    ['10.0.0.1', '9.9.9.9, 1.1.1.1', 1],
    ['10.0.0.1', '9.9.9.9, 1.1.1.1', 2],
    ['10.0.0.1', '9.9.9.9,1.1.1.1', 5],
    ['10.0.0.1', undefined, 3],
  ];
  it.each(cases)('peer %s, X-Forwarded-For %s, %i hops: the same as Express', (peer, xff, hops) => {
    expect(clientIp(req(peer, xff), hops)).toBe(expressIp(peer, xff, hops));
  });

  it('takes the address the trusted proxy saw, not what the client wrote', () => {
    expect(clientIp(req('10.0.0.1', 'spoofed, 7.7.7.7'), 1)).toBe('7.7.7.7');
  });
});
