import { connect } from 'node:net';
import type { CommonConfig } from '../services/core/config.js';
import { ensureDatabase } from '../services/core/db/migrate.js';

const reachable = (url: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const u = new URL(url);
    const s = connect({ host: u.hostname, port: Number(u.port || port), timeout: 2000 });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });

/** What is missing to run the bench, each with what to run (a sentence, not a stack trace). */
export async function preflight(c: CommonConfig): Promise<string[]> {
  const deps = [
    {
      name: 'PostgreSQL',
      url: c.databaseUrl,
      port: 5432,
      how: 'pg_ctlcluster $(ls /etc/postgresql) main start',
    },
    { name: 'Redis', url: c.redisUrl, port: 6379, how: 'redis-server --daemonize yes' },
    { name: 'RabbitMQ', url: c.amqpUrl, port: 5672, how: 'rabbitmq-server -detached' },
  ];
  const out: string[] = [];
  for (const d of deps) {
    if (!(await reachable(d.url, d.port))) {
      out.push(
        `${d.name} does not answer at ${new URL(d.url).host}: start it (${d.how}, or docker compose -f docker/compose.yaml up -d), then run npm run bench again`,
      );
    }
  }
  // The platform migrates its own schema; the database itself may not exist yet on a fresh machine.
  if (out.length === 0) await ensureDatabase(c.databaseUrl);
  return out;
}
