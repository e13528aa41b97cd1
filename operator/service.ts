import type { Express } from 'express';
import type { Registry } from 'prom-client';
import { createSequelize } from '../services/core/db/connect.js';
import { createHttpApp, finish, Readiness } from '../services/core/http/app.js';
import type { Logger } from '../services/core/log.js';
import { createRegistry } from '../services/core/metrics.js';
import { closeRedis, createRedis } from '../services/core/redis/client.js';
import type { OperatorConfig } from './config.js';
import { KubeClient } from './kube/client.js';
import { loadKubeConfig } from './kube/config.js';
import { watchActivities, type ActivityWatch } from './kube/informer.js';
import { LeaderElector } from './kube/leader.js';
import { operatorMetrics } from './metrics.js';
import { WorkQueue } from './queue.js';
import { Reconciler } from './reconciler.js';

export interface Operator {
  app: Express;
  readiness: Readiness;
  registry: Registry;
  isLeader(): boolean;
  start(): Promise<void>;
  closers: { name: string; close: () => Promise<unknown> }[];
}

/**
 * Wires the operator: only the elected leader watches and reconciles; a standby keeps serving health and
 * metrics and takes over when the lease expires. `now` is injectable so tests can run a sale in seconds.
 */
export function buildOperator(config: OperatorConfig, log: Logger, now: () => number = Date.now): Operator {
  const registry = createRegistry('operator');
  const metrics = operatorMetrics(registry);
  const kc = loadKubeConfig(config.kubeconfig);
  const kube = new KubeClient(kc);
  const db = createSequelize({ url: config.databaseUrl, log, schema: config.databaseSchema, poolMax: 4 });
  const redis = createRedis({ target: config.redis, log, name: 'operator', commandTimeoutMs: 3000 });
  let watch: ActivityWatch | null = null;
  let queue: WorkQueue | null = null;
  const reconciler = new Reconciler({
    kube,
    watch: () => watch,
    stores: { db, redis, prefix: config.prefix },
    metrics,
    log,
    liveRefreshMs: config.liveRefreshMs,
    maxReplicas: config.maxReplicas,
    now,
  });

  const lead = async (): Promise<void> => {
    const q = new WorkQueue((key) => reconciler.reconcile(key), log);
    queue = q;
    const w = await watchActivities(kc, config.watchNamespace, log, (k) => q.add(`${k.namespace}/${k.name}`));
    // Leadership lost while the watch was starting: this watch must not run.
    if (queue !== q) await w.stop();
    else watch = w;
  };
  const follow = async (): Promise<void> => {
    queue?.stop();
    queue = null;
    await watch?.stop();
    watch = null;
  };
  const elector = config.leaderElection
    ? new LeaderElector(
        kc,
        {
          namespace: config.leaseNamespace,
          name: config.leaseName,
          identity: config.identity,
          leaseDurationSeconds: config.leaseDurationSeconds,
          renewDeadlineMs: config.renewDeadlineMs,
          retryPeriodMs: config.retryPeriodMs,
          log,
          now,
        },
        (leading) => {
          void (leading ? lead() : follow()).catch((err: unknown) =>
            log.error({ err }, 'leadership change failed'),
          );
        },
      )
    : null;

  const readiness = new Readiness().add('redis', () => redis.status === 'ready');
  const http = { log, registry, readiness, trustProxyHops: 0 };
  const app = finish(createHttpApp(http), http);
  return {
    app,
    readiness,
    registry,
    isLeader: () => (elector ? elector.isLeader : true),
    async start() {
      if (elector) elector.start();
      else await lead();
    },
    closers: [
      { name: 'leader', close: async () => elector?.stop() },
      { name: 'watch', close: follow },
      { name: 'redis', close: () => closeRedis(redis) },
      { name: 'postgres', close: () => db.close() },
    ],
  };
}
