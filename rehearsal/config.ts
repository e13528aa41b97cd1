import { EnvReader, readCommon, type Env } from '../services/core/config.js';

/** Settings of `npm run cluster` (rehearsal/main.ts). */
export interface ClusterConfig {
  nodes: number;
  /** `--horizontal-pod-autoscaler-sync-period`: the real default (15s) unless set. */
  hpaSyncPeriod: string;
  /** Install charts/stampede and run the operators; false: the bare control plane. */
  install: boolean;
  namespace: string;
  release: string;
  operators: number;
  /** One more node, run by a real kubelet and containerd, where the chart's pods really run. */
  realNode: boolean;
  /** A docker-archive of the Stampede image for the real node; built by `npm run image` if unset. */
  imageArchive: string | undefined;
  /** Fixed directory for the cluster's data and kubeconfig; a temporary one if unset. */
  dir: string | undefined;
  /** The platform `npm start` runs: the chart's Secret and the operators point at it. */
  databaseUrl: string;
  redisUrl: string;
  amqpUrl: string;
  jwtSecret: string;
  prefix: string;
}

export function loadClusterConfig(env: Env = process.env): ClusterConfig {
  const r = new EnvReader(env);
  const common = readCommon(r);
  const config: ClusterConfig = {
    nodes: r.int('CLUSTER_NODES', 3, 1, 100),
    hpaSyncPeriod: r.str('CLUSTER_HPA_SYNC_PERIOD', '15s', /^\d+(ms|s|m)$/, 'a duration such as 1s or 15s'),
    install: r.str('CLUSTER_INSTALL', 'true', /^(true|false)$/, 'true or false') === 'true',
    namespace: r.str('CLUSTER_NAMESPACE', 'stampede', /^[a-z0-9-]{1,63}$/, 'a namespace name'),
    release: r.str('CLUSTER_RELEASE', 'stampede', /^[a-z0-9-]{1,53}$/, 'a Helm release name'),
    operators: r.int('CLUSTER_OPERATORS', 2, 0, 5),
    realNode: r.str('CLUSTER_REAL_NODE', 'false', /^(true|false)$/, 'true or false') === 'true',
    imageArchive: r.optional('CLUSTER_IMAGE_ARCHIVE'),
    dir: r.optional('CLUSTER_DIR'),
    databaseUrl: common.databaseUrl,
    redisUrl: common.redisUrl,
    amqpUrl: common.amqpUrl,
    jwtSecret: common.jwtSecret,
    prefix: common.prefix,
  };
  r.done();
  return config;
}

/** The environment child processes start from: the operators inherit the platform's settings. */
export function inheritedEnv(env: Env = process.env): Record<string, string | undefined> {
  return { ...env };
}
