// Migrations against the real Postgres: the advisory lock that serialises migrating processes is taken
// and released on one connection, so it never outlives the run (a pool would unlock on another session,
// leaving the lock held by an idle pooled connection and every later migration waiting for it).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { QueryTypes } from 'sequelize';
import { createSequelize } from '../../services/core/db/connect.js';
import { ensureDatabase, migrate } from '../../services/core/db/migrate.js';
import { DATABASE_URL, quietLog } from '../helpers/env.js';

const LOCK = 7_316_221;

/** Advisory migration locks held by the given backends (other suites may be migrating meanwhile). */
const heldBy = (c: pg.Client, pids: Set<number>) =>
  c
    .query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
       AND ((classid::bigint << 32) | objid::bigint) = $1`,
      [LOCK],
    )
    .then((r) => r.rows.filter((row) => pids.has(row.pid)).length);

it('takes and releases the migration lock on one connection while other queries share the pool', async () => {
  await ensureDatabase(DATABASE_URL);
  const schema = `t_${randomBytes(5).toString('hex')}`;
  const admin = createSequelize({ url: DATABASE_URL, log: quietLog });
  await admin.query(`CREATE SCHEMA ${schema}`);
  // A small pool with more queries waiting than it has connections: whichever connection frees first serves
  // the next query, as in a busy process.
  const db = createSequelize({ url: DATABASE_URL, log: quietLog, schema, poolMax: 2 });
  const observer = new pg.Client({ connectionString: DATABASE_URL });
  await observer.connect();
  let running = true;
  try {
    const pool = new Set<number>();
    const busy = Array.from({ length: 6 }, async () => {
      while (running) {
        const [row] = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.001)', {
          type: QueryTypes.SELECT,
        });
        if (row) pool.add(row.pid);
      }
    });
    const applied: string[] = [];
    const leftHeld: number[] = [];
    // Each run must leave no lock behind, whichever pooled connection the other queries hold meanwhile.
    for (let i = 0; i < 60; i++) {
      applied.push(...(await migrate(db, schema)));
      leftHeld.push(await heldBy(observer, pool));
    }
    running = false;
    await Promise.all(busy);
    expect(applied.filter((n) => n === '0001-initial')).toHaveLength(1);
    expect(leftHeld.filter((n) => n > 0)).toEqual([]);
  } finally {
    running = false;
    await observer.end();
    await db.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.close();
  }
}, 30_000);
