import pg from 'pg';
import type { QueryInterface, Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import type { Migration } from './migrations/migration.js';
import { initial } from './migrations/0001-initial.js';
import { paymentEvents } from './migrations/0002-payment-events.js';
import { activityOwner } from './migrations/0003-activity-owner.js';
import { tenancy } from './migrations/0004-tenancy.js';
import { verifiedPayments } from './migrations/0005-verified-payments.js';

/** Every migration in order; new ones are appended, never edited once released. */
export const MIGRATIONS: Migration[] = [initial, paymentEvents, activityOwner, tenancy, verifiedPayments];

export function migrator(sequelize: Sequelize, schema = 'public'): Umzug<QueryInterface> {
  return new Umzug({
    migrations: MIGRATIONS.map((m) => ({ name: m.name, up: m.up, down: m.down })),
    context: sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize, tableName: 'stampede_migrations', schema }),
    logger: undefined,
  });
}

/**
 * Runs pending migrations; returns their names. Serialised across processes by a session-level advisory
 * lock, which belongs to one connection: it is taken and released on a connection of its own, outside
 * the pool (a pooled unlock could run on another session, fail, and leave the lock held by an idle pooled
 * connection, so every later migration would wait for it).
 */
export async function migrate(sequelize: Sequelize, schema = 'public'): Promise<string[]> {
  const lock = 7_316_221;
  const c = sequelize.config;
  const client = new pg.Client({
    host: c.host,
    port: Number(c.port),
    user: c.username,
    password: c.password ?? undefined,
    database: c.database,
    ssl: (c.dialectOptions as { ssl?: pg.ClientConfig['ssl'] } | undefined)?.ssl,
    connectionTimeoutMillis: 3000,
  });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [lock]);
    try {
      const done = await migrator(sequelize, schema).up();
      return done.map((m) => m.name);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [lock]);
    }
  } finally {
    await client.end();
  }
}

/** Creates the database named in `url` if it does not exist (connecting to the `postgres` database). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(name))
    throw new Error(`refusing to create database ${JSON.stringify(name)}`);
  u.pathname = '/postgres';
  u.search = '';
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    await client.query(`CREATE DATABASE "${name}"`);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '42P04') return false; // created concurrently
    throw err;
  } finally {
    await client.end();
  }
}
