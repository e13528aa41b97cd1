import type { Server } from 'node:http';
import { listen, portOf } from '../../services/core/http/server.js';
import { loadSeckillConfig } from '../../services/seckill/config.js';
import { buildSeckill, type Seckill } from '../../services/seckill/service.js';
import { quietLog, waitFor } from './env.js';

export interface RunningSeckill {
  url: string;
  seckill: Seckill;
  server: Server;
  stop(): Promise<void>;
}

/** An in-process seckill on a free port, its limits off unless the test sets them. */
export async function startSeckill(
  prefix: string,
  env: Record<string, string> = {},
): Promise<RunningSeckill> {
  const config = loadSeckillConfig({
    ...process.env,
    SECKILL_RATE_GLOBAL: '0',
    SECKILL_RATE_PER_IP: '0',
    SECKILL_RATE_PER_USER: '0',
    ...env,
    STAMPEDE_PREFIX: prefix,
    PORT: '0',
  });
  const seckill = buildSeckill(config, quietLog);
  await seckill.start();
  const server = await listen(seckill.app, 0, '127.0.0.1');
  const url = `http://127.0.0.1:${portOf(server)}`;
  return {
    url,
    seckill,
    server,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      for (const c of seckill.closers) await c.close().catch(() => undefined);
    },
  };
}

export async function waitReady(url: string): Promise<void> {
  await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, `${url} ready`);
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export async function call(
  url: string,
  path: string,
  init: {
    method?: string;
    token?: string;
    body?: unknown;
    raw?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined = init.raw;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  } else if (init.raw !== undefined) {
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url + path, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
