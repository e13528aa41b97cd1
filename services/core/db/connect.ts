import { Sequelize } from 'sequelize';
import type { Logger } from '../log.js';

export interface DbOptions {
  url: string;
  log: Logger;
  /** A schema to use instead of `public` (tests isolate themselves this way). */
  schema?: string;
  poolMax?: number;
  /** Statement timeout so a stuck query becomes an error, not a hang. */
  statementTimeoutMs?: number;
}

export function createSequelize(o: DbOptions): Sequelize {
  const options = [`-c statement_timeout=${o.statementTimeoutMs ?? 10_000}`];
  if (o.schema) options.push(`-c search_path=${o.schema}`);
  return new Sequelize(o.url, {
    dialect: 'postgres',
    logging: (sql) => o.log.trace({ sql }, 'sql'),
    pool: { max: o.poolMax ?? 10, min: 0, acquire: 5000, idle: 10_000 },
    dialectOptions: { options: options.join(' '), connectionTimeoutMillis: 3000 },
    define: { underscored: true, timestamps: true },
  });
}

/** True when the error means Postgres could not be reached (as opposed to a query it refused). */
export function isConnectionError(err: unknown): boolean {
  const e = err as {
    name?: string;
    original?: { code?: string };
    parent?: { code?: string };
    message?: string;
  };
  if (e?.name && /^Sequelize(Connection\w*|HostNotReachable|HostNotFound|AccessDenied)Error$/.test(e.name))
    return true;
  const code = e?.original?.code ?? e?.parent?.code ?? '';
  return (
    /^(08|57P0[123])/.test(code) ||
    /ECONNREFUSED|ECONNRESET|Connection terminated|timeout expired/.test(e?.message ?? '')
  );
}

/**
 * SQLSTATEs that are about Postgres, not about the statement: deadlock (40P01), serialization failure
 * (40001), statement or lock timeout (57014, 55P03), read-only after a failover (25006), insufficient
 * resources (53xxx), admin or crash shutdown (57P0x), connection exceptions (08xxx). The same statement
 * will succeed later, so the order worker treats them as an outage (hand the batch back, pause) and never
 * as a bad message to retry through the tiers and park.
 */
const INFRASTRUCTURE_SQLSTATE = /^(40P01|40001|57014|55P03|25006|53...|57P0.|08...)$/;

/** True when Postgres could not be reached or refused for a reason of its own (see above). */
export function isInfrastructureError(err: unknown): boolean {
  if (isConnectionError(err)) return true;
  const e = err as { original?: { code?: string }; parent?: { code?: string } };
  return INFRASTRUCTURE_SQLSTATE.test(e?.original?.code ?? e?.parent?.code ?? '');
}
