import { hostname } from 'node:os';
import { EnvReader, readBase, type BaseConfig, type Env } from '../services/core/config.js';

export interface OperatorConfig extends BaseConfig {
  port: number;
  kubeconfig: string | undefined;
  /** Empty: every namespace. */
  watchNamespace: string;
  leaderElection: boolean;
  leaseNamespace: string;
  leaseName: string;
  leaseDurationSeconds: number;
  /** The leader stops leading when no renew succeeded for this long (client-go's RenewDeadline). */
  renewDeadlineMs: number;
  /** How often candidates try to acquire and the leader renews (client-go's RetryPeriod). */
  retryPeriodMs: number;
  identity: string;
  /** How often a running sale's stock is refreshed in its status. */
  liveRefreshMs: number;
  /** The most replicas a SeckillActivity can get a target's HPA floor (min and max) raised to. */
  maxReplicas: number;
}

export function loadOperatorConfig(env: Env = process.env): OperatorConfig {
  const r = new EnvReader(env);
  const lease = r.int('LEASE_DURATION_SECONDS', 15, 2, 300);
  const config: OperatorConfig = {
    ...readBase(r),
    port: r.int('PORT', 8083, 0, 65535),
    kubeconfig: r.optional('KUBECONFIG'),
    watchNamespace: r.str('WATCH_NAMESPACE', '', /^[a-z0-9-]{0,63}$/, 'a namespace name or empty'),
    leaderElection: r.str('LEADER_ELECTION', 'true', /^(true|false)$/, 'true or false') === 'true',
    leaseNamespace: r.str(
      'LEASE_NAMESPACE',
      env.POD_NAMESPACE ?? 'default',
      /^[a-z0-9-]{1,63}$/,
      'a namespace name',
    ),
    leaseName: r.str('LEASE_NAME', 'stampede-operator', /^[a-z0-9.-]{1,253}$/, 'a DNS name'),
    leaseDurationSeconds: lease,
    // client-go's defaults are 15 s, 10 s and 2 s: the same proportions for any lease duration.
    renewDeadlineMs: r.int('LEASE_RENEW_DEADLINE_MS', Math.round((lease * 2000) / 3), 100, 300_000),
    retryPeriodMs: r.int('LEASE_RETRY_PERIOD_MS', Math.round((lease * 1000) / 7.5), 50, 300_000),
    identity: r.str('POD_NAME', `${hostname()}-${process.pid}`),
    liveRefreshMs: r.int('OPERATOR_LIVE_REFRESH_MS', 10_000, 100, 600_000),
    maxReplicas: r.int('OPERATOR_MAX_REPLICAS', 50, 1, 10_000),
  };
  r.done();
  return config;
}
