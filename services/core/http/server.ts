import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import type { Readiness } from './app.js';

/** `host` has no default: every process binds what LISTEN_HOST says (config.ts), tests bind 127.0.0.1. */
export async function listen(app: RequestListener, port: number, host: string): Promise<Server> {
  const server = createServer(app);
  // Longer than any load balancer idle timeout so the proxy, not us, closes idle keep-alive connections.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export const portOf = (server: Server): number => (server.address() as AddressInfo).port;

export interface ShutdownPlan {
  log: Logger;
  readiness: Readiness;
  server: Server | null;
  /** Time between readiness flipping and the listener closing, so endpoints stop routing to us. */
  delayMs: number;
  /** Hard cap on waiting for in-flight requests. */
  drainTimeoutMs: number;
  /** Clients to close last, in order (after every in-flight request has finished). */
  closers: { name: string; close: () => Promise<unknown> }[];
}

/**
 * Readiness flips first, in-flight requests finish, clients close last. Idempotent: a second signal
 * while draining does not start a second shutdown.
 */
export function gracefulShutdown(plan: ShutdownPlan): () => Promise<void> {
  let running: Promise<void> | null = null;
  const run = async (): Promise<void> => {
    plan.readiness.drain();
    plan.log.info({ delayMs: plan.delayMs }, 'draining');
    if (plan.delayMs > 0) await new Promise((r) => setTimeout(r, plan.delayMs));
    if (plan.server) await closeServer(plan.server, plan.drainTimeoutMs);
    for (const c of plan.closers) {
      await c.close().catch((err: unknown) => plan.log.warn({ err, client: c.name }, 'close failed'));
    }
    plan.log.info('stopped');
  };
  return () => (running ??= run());
}

function closeServer(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, timeoutMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    // Idle keep-alive sockets would hold close() open; busy ones close after their response.
    server.closeIdleConnections();
  });
}

/** Wires SIGTERM and SIGINT to the shutdown and exits when it is done. */
export function onSignals(shutdown: () => Promise<void>, log: Logger): void {
  const handler = (signal: string) => {
    log.info({ signal }, 'signal received');
    void shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => handler('SIGTERM'));
  process.once('SIGINT', () => handler('SIGINT'));
  // Under `npm start` the supervisor is the IPC parent: if it dies (even by SIGKILL), stop too, not orphaned.
  if (process.send) process.once('disconnect', () => handler('supervisor gone'));
}
