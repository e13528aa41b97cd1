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
