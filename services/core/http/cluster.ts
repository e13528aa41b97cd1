import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type PrometheusContentType, type Registry } from 'prom-client';
import { unavailable } from '../errors.js';
import type { Logger } from '../log.js';

const METRICS_REQ = 'stampede:metrics-req';
const METRICS_RES = 'stampede:metrics-res';

export const isClusterWorker = (): boolean => cluster.isWorker;

export interface PrimaryOptions {
  workers: number;
  log: Logger;
  /** How long a SIGTERM waits for the workers before they are killed. */
  stopTimeoutMs: number;
}

/**
 * The node:cluster primary: forks `workers` copies of this process sharing one listening port, restarts
 * one that dies (backing off while it keeps dying), answers the workers' requests for the metrics of all
 * of them, and on SIGTERM, SIGINT or the loss of its own supervisor stops every worker gracefully.
 * It serves no request itself: its crash would take the port with it, so it does as little as possible.
 */
export function runPrimary(o: PrimaryOptions): void {
  const aggregator = new AggregatorRegistry<PrometheusContentType>();
  let stopping = false;
  const fork = (attempt: number): void => {
    const started = Date.now();
    const w = cluster.fork();
    w.on('message', (m: { type?: string; id?: number }) => {
      if (m?.type === METRICS_REQ) void answerMetrics(aggregator, w, m.id ?? 0);
    });
    w.once('exit', (code, signal) => {
      if (stopping) return;
      const next = Date.now() - started > 30_000 ? 0 : attempt + 1;
      const delay = Math.min(10_000, 250 * 2 ** next);
      o.log.error({ pid: w.process.pid, code, signal, delay }, 'seckill worker exited; restarting');
      setTimeout(() => fork(next), delay);
    });
  };
  for (let i = 0; i < o.workers; i++) fork(0);
  o.log.info({ workers: o.workers }, 'seckill primary started');
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    o.log.info({ why }, 'stopping seckill workers');
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    for (const w of alive) w.process.kill('SIGTERM');
    const force = setTimeout(() => alive.forEach((w) => w.process.kill('SIGKILL')), o.stopTimeoutMs);
    let failed = false;
    void Promise.all(
      alive.map(
        (w) =>
          new Promise<void>((r) =>
            w.once('exit', (code, signal) => {
              // A worker still starting has no handler yet and ends by the signal itself: nothing was in flight.
              failed ||= signal ? signal !== 'SIGTERM' : code !== 0;
              r();
            }),
          ),
      ),
    ).then(() => {
      clearTimeout(force);
      process.exit(failed ? 1 : 0);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  if (process.send) process.once('disconnect', () => stop('supervisor gone'));
}

async function answerMetrics(
  aggregator: AggregatorRegistry<PrometheusContentType>,
  w: Worker,
  id: number,
): Promise<void> {
  try {
    w.send({ type: METRICS_RES, id, text: await aggregator.clusterMetrics() });
  } catch (err) {
    w.send({ type: METRICS_RES, id, error: (err as Error).message });
  }
}

let nextRequest = 0;

/**
 * In a worker: the metrics of every worker, aggregated by the primary (each counter summed; gauges as
 * their `aggregator` says). Outside a cluster: this process' registry.
 */
export function clusterMetricsOf(registry: Registry): () => Promise<string> {
  if (!cluster.isWorker) return () => registry.metrics();
  AggregatorRegistry.setRegistries([registry]);
  // prom-client answers the primary's requests only once an AggregatorRegistry exists in this process.
  new AggregatorRegistry<PrometheusContentType>();
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = ++nextRequest;
      const timer = setTimeout(() => done(new Error('metrics from the cluster primary timed out')), 6000);
      const onMessage = (m: { type?: string; id?: number; text?: string; error?: string }) => {
        if (m?.type === METRICS_RES && m.id === id) done(m.error ? new Error(m.error) : null, m.text);
      };
      const done = (err: Error | null, text = '') => {
        clearTimeout(timer);
        process.off('message', onMessage);
        if (err) reject(unavailable('metrics of the other workers did not arrive', err));
        else resolve(text);
      };
      process.on('message', onMessage);
      process.send?.({ type: METRICS_REQ, id });
    });
}
