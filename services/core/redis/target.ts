/**
 * Where Redis is: one server (REDIS_URL), a master found through Sentinel (REDIS_SENTINELS +
 * REDIS_SENTINEL_NAME) or a Redis Cluster (REDIS_CLUSTER_NODES). Parsed once by config.ts; the factory in
 * client.ts builds every process' clients from it, so every process speaks the same mode.
 */
export interface HostPort {
  host: string;
  port: number;
}

/** Credentials and TLS of the data nodes in Sentinel and Cluster mode (a URL carries its own). */
export interface RedisAuth {
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisTarget =
  | { mode: 'single'; url: string; waitReplicas: number; waitTimeoutMs: number }
  | {
      mode: 'sentinel';
      sentinels: HostPort[];
      name: string;
      sentinelPassword?: string;
      auth: RedisAuth;
      /** Replicas that must hold an accepted purchase before anyone is told (lua writes + WAIT). */
      waitReplicas: number;
      waitTimeoutMs: number;
    }
  | { mode: 'cluster'; nodes: HostPort[]; auth: RedisAuth; waitReplicas: 0; waitTimeoutMs: number };

/** `host:port,host:port`; IPv6 hosts in brackets (`[::1]:6379`). Null when a part does not parse. */
export function parseHostPorts(raw: string): HostPort[] | null {
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) return null;
  const out: HostPort[] = [];
  for (const p of parts) {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/.exec(p);
    const port = Number(m?.[3]);
    if (!m || port < 1 || port > 65535) return null;
    out.push({ host: (m[1] ?? m[2]) as string, port });
  }
  return out;
}

/** For logs and errors: never prints a password. */
export function describeTarget(t: RedisTarget): string {
  const list = (hs: HostPort[]) => hs.map((h) => `${h.host}:${h.port}`).join(',');
  if (t.mode === 'sentinel') return `sentinel ${t.name} via ${list(t.sentinels)}`;
  if (t.mode === 'cluster') return `cluster ${list(t.nodes)}`;
  const u = new URL(t.url);
  return `${u.protocol}//${u.host}`;
}
