/**
 * The only place besides each service's config.ts that touches the environment. Every variable is parsed
 * up front and every bad one is reported together, so a misconfigured pod fails at start with one message
 * instead of failing later on the first request that needs the value.
 */
import type { TracingConfig } from './tracing.js';
import { parseHostPorts, type RedisTarget } from './redis/target.js';
export type Env = Record<string, string | undefined>;

export const DEV_JWT_SECRET = 'stampede-development-secret-change-me-0123456789';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  str(name: string, fallback: string, pattern?: RegExp, hint?: string): string {
    const raw = this.env[name];
    const value = raw === undefined || raw === '' ? fallback : raw;
    if (pattern && !pattern.test(value))
      this.problems.push(`${name}=${JSON.stringify(value)}: ${hint ?? pattern}`);
    return value;
  }

  optional(name: string): string | undefined {
    const raw = this.env[name];
    return raw === undefined || raw === '' ? undefined : raw;
  }

  int(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected an integer in [${min}, ${max}]`);
      return fallback;
    }
    return n;
  }

  intList(name: string, fallback: number[], min: number, max: number): number[] {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const parts = raw.split(',').map((p) => p.trim());
    const values = parts.map(Number);
    if (parts.some((p) => !/^\d+$/.test(p)) || values.some((v) => v < min || v > max) || values.length > 10) {
      this.problems.push(
        `${name}=${JSON.stringify(raw)}: expected up to 10 comma-separated integers in [${min}, ${max}]`,
      );
      return fallback;
    }
    return values;
  }

  url(name: string, fallback: string, protocols: string[]): string {
    const value = this.str(name, fallback);
    try {
      const u = new URL(value);
      if (!protocols.includes(u.protocol)) {
        this.problems.push(`${name}: protocol ${u.protocol} is not one of ${protocols.join(', ')}`);
      }
    } catch {
      this.problems.push(`${name}: not a URL`);
    }
    return value;
  }

  /** Throws one ConfigError naming every bad variable seen by this reader. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

/** What every process reads; no signing key (the orders worker, the operator and `migrate` need none). */
export interface BaseConfig {
  nodeEnv: string;
  logLevel: string;
  databaseUrl: string;
  /** Postgres schema holding Stampede's tables (tests run each suite in its own). */
  databaseSchema: string;
  /** REDIS_URL as given (or its default); the clients are built from `redis`, which may ignore it. */
  redisUrl: string;
  /** One server, Sentinel or Cluster (redis/target.ts): what every Redis client of the process uses. */
  redis: RedisTarget;
  amqpUrl: string;
  prefix: string;
  trustProxyHops: number;
  /** Retry tier delays; every process declaring the topology must agree (queue arguments are fixed). */
  retryTiersMs: number[];
  /** Seconds a draining process keeps serving after readiness flips (lets the Ingress stop routing). */
  shutdownDelaySeconds: number;
  /** LISTEN_HOST: the address every HTTP listener binds (0.0.0.0 in a pod; `npm start` passes 127.0.0.1). */
  listenHost: string;
  tracing: TracingConfig;
}

/** The token signing keys: only processes that sign or verify tokens (api, seckill, `stampede sale`) read them. */
export interface JwtConfig {
  jwtSecret: string;
  /** JWT_SECRET_PREVIOUS: the key before a rotation, accepted for one token lifetime (tokens carry kid). */
  jwtSecretPrevious: string | undefined;
}

export type CommonConfig = BaseConfig & JwtConfig;

/** BaseConfig and the signing keys: a process that reads these cannot start without JWT_SECRET in production. */
export function readCommon(r: EnvReader): CommonConfig {
  const base = readBase(r);
  return { ...base, ...readJwt(r, base.nodeEnv) };
}

export function readJwt(r: EnvReader, nodeEnv: string): JwtConfig {
  const jwtSecret = r.str('JWT_SECRET', DEV_JWT_SECRET);
  if (jwtSecret.length < 32) r.problems.push('JWT_SECRET: must be at least 32 characters');
  if (nodeEnv === 'production' && jwtSecret === DEV_JWT_SECRET) {
    r.problems.push('JWT_SECRET: the development default is refused when NODE_ENV=production');
  }
  const jwtSecretPrevious = r.optional('JWT_SECRET_PREVIOUS');
  if (jwtSecretPrevious !== undefined && jwtSecretPrevious.length < 32)
    r.problems.push('JWT_SECRET_PREVIOUS: must be at least 32 characters');
  return { jwtSecret, jwtSecretPrevious };
}

export function readBase(r: EnvReader): BaseConfig {
  return {
    nodeEnv: r.str('NODE_ENV', 'development'),
    logLevel: r.str('LOG_LEVEL', 'info', /^(fatal|error|warn|info|debug|trace|silent)$/, 'a pino level'),
    databaseUrl: r.url('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/stampede', [
      'postgres:',
      'postgresql:',
    ]),
    databaseSchema: r.str(
      'DATABASE_SCHEMA',
      'public',
      /^[a-z_][a-z0-9_]{0,62}$/,
      'a lower-case SQL identifier',
    ),
    redisUrl: r.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    redis: readRedis(r),
    amqpUrl: r.url('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672', ['amqp:', 'amqps:']),
    // The prefix becomes part of Redis keys and RabbitMQ names: no braces (hash tags) or colons.
    prefix: r.str(
      'STAMPEDE_PREFIX',
      'stampede',
      /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
      'letters, digits, _ . -',
    ),
    trustProxyHops: r.int('TRUST_PROXY_HOPS', 0, 0, 10),
    shutdownDelaySeconds: r.int('SHUTDOWN_DELAY_SECONDS', 0, 0, 120),
    listenHost: r.str('LISTEN_HOST', '0.0.0.0', /^[A-Za-z0-9.:-]{1,253}$/, 'an IP address or host name'),
    retryTiersMs: r.intList('STAMPEDE_RETRY_TIERS_MS', [1000, 5000, 30000], 10, 3_600_000),
    tracing: readTracing(r),
  };
}

/**
 * REDIS_SENTINELS (+ REDIS_SENTINEL_NAME) or REDIS_CLUSTER_NODES replace REDIS_URL (DESIGN §8); both at once
 * is refused. Credentials of the data nodes: REDIS_USERNAME/REDIS_PASSWORD (REDIS_TLS=true for TLS), of the
 * Sentinels: REDIS_SENTINEL_PASSWORD. REDIS_WAIT_REPLICAS (default 1 with Sentinel, else 0): replicas that
 * must hold an accepted purchase before it is answered (docs/redis.md); Cluster mode cannot route WAIT.
 */
function readRedis(r: EnvReader): RedisTarget {
  const sentinelsRaw = r.optional('REDIS_SENTINELS');
  const clusterRaw = r.optional('REDIS_CLUSTER_NODES');
  const waitTimeoutMs = r.int('REDIS_WAIT_TIMEOUT_MS', 500, 10, 60_000);
  const hostPorts = (name: string, raw: string) => {
    const list = parseHostPorts(raw);
    if (!list) r.problems.push(`${name}=${JSON.stringify(raw)}: expected host:port,host:port,…`);
    return list ?? [];
  };
  const auth = {
    username: r.optional('REDIS_USERNAME'),
    password: r.optional('REDIS_PASSWORD'),
    tls: r.str('REDIS_TLS', 'false', /^(true|false)$/, 'true or false') === 'true',
  };
  if (sentinelsRaw !== undefined && clusterRaw !== undefined)
    r.problems.push('REDIS_SENTINELS and REDIS_CLUSTER_NODES: set one of them, not both');
  if (sentinelsRaw !== undefined) {
    const name = r.optional('REDIS_SENTINEL_NAME');
    if (name === undefined) r.problems.push('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS');
    return {
      mode: 'sentinel',
      sentinels: hostPorts('REDIS_SENTINELS', sentinelsRaw),
      name: name ?? '',
      sentinelPassword: r.optional('REDIS_SENTINEL_PASSWORD'),
      auth,
      waitReplicas: r.int('REDIS_WAIT_REPLICAS', 1, 0, 10),
      waitTimeoutMs,
    };
  }
  if (clusterRaw !== undefined) {
    if (r.int('REDIS_WAIT_REPLICAS', 0, 0, 10) > 0)
      r.problems.push('REDIS_WAIT_REPLICAS: not supported with REDIS_CLUSTER_NODES (WAIT has no slot)');
    return {
      mode: 'cluster',
      nodes: hostPorts('REDIS_CLUSTER_NODES', clusterRaw),
      auth,
      waitReplicas: 0,
      waitTimeoutMs,
    };
  }
  const url = r.str('REDIS_URL', 'redis://127.0.0.1:6379');
  return { mode: 'single', url, waitReplicas: r.int('REDIS_WAIT_REPLICAS', 0, 0, 10), waitTimeoutMs };
}

/** OpenTelemetry's own variable names: unset endpoint = no tracing; the ratio samples new traces. */
function readTracing(r: EnvReader): TracingConfig {
  const endpoint = r.optional('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (endpoint !== undefined) r.url('OTEL_EXPORTER_OTLP_ENDPOINT', endpoint, ['http:', 'https:']);
  const ratio = r.str('OTEL_TRACES_SAMPLER_ARG', '1', /^(0(\.\d+)?|1(\.0+)?)$/, 'a ratio from 0 to 1');
  return { otlpEndpoint: endpoint ?? null, sampleRatio: Number(ratio) };
}
