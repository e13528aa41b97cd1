import type { RequestListener, Server } from 'node:http';
import { AppError, ErrorCode } from '../errors.js';
import { sendProblem } from './problem.js';
import { listen } from './server.js';

/** The paths `finish` (app.ts) adds for kubelets and Prometheus, not for shoppers. */
const MANAGEMENT_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Whether Express would route this URL to one of them: its router matches case-insensitively, ignores a
 * trailing slash and the query, and does not decode the path, so `/METRICS/?x` is `/metrics` and
 * `/%6detrics` is not.
 */
function isManagement(url: string | undefined): boolean {
  const path = (url ?? '/').split('?', 1)[0] ?? '/';
  return MANAGEMENT_PATHS.has(path.toLowerCase().replace(/\/$/, ''));
}

const notHere = (): AppError => new AppError(ErrorCode.NOT_FOUND, 'no such route');

/**
 * One app over two listeners: the public port (behind the Ingress) answers 404 for the management paths,
 * the management port (Service port `metrics`, probes, Prometheus; never routed by the Ingress) serves
 * only them, so /metrics and the readiness detail are never public (issue 20 point 11).
 */
export function splitManagement(app: RequestListener): {
  publicApp: RequestListener;
  managementApp: RequestListener;
} {
  return {
    publicApp: (req, res) => (isManagement(req.url) ? sendProblem(res, notHere()) : app(req, res)),
    managementApp: (req, res) => (isManagement(req.url) ? app(req, res) : sendProblem(res, notHere())),
  };
}

export interface Listeners {
  server: Server;
  /** The management listener, when split off; closed last, so probes see the drain until the end. */
  management: Server | null;
}

/** Listens on `host`:`port`, and on `managementPort` for the management paths when it is set. */
export async function listenSplit(
  app: RequestListener,
  host: string,
  port: number,
  managementPort: number | null,
): Promise<Listeners> {
  if (managementPort === null) return { server: await listen(app, port, host), management: null };
  const { publicApp, managementApp } = splitManagement(app);
  const server = await listen(publicApp, port, host);
  const management = await listen(managementApp, managementPort, host).catch(async (err: unknown) => {
    await new Promise((r) => server.close(r));
    throw err;
  });
  return { server, management };
}

/** Closes a listener and its keep-alive connections (the drain already happened on the public one). */
export function closeListener(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
