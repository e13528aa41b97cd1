import { randomBytes } from 'node:crypto';
import type { Sequelize } from 'sequelize';
import { createSequelize } from '../../services/core/db/connect.js';
import { ensureDatabase, migrate } from '../../services/core/db/migrate.js';
import { DATABASE_URL, quietLog } from './env.js';

export interface TestSchema {
  schema: string;
  db: Sequelize;
  drop(): Promise<void>;
}

/** A fresh Postgres schema with every migration applied: each suite's tables are its own. */
export async function testSchema(): Promise<TestSchema> {
  await ensureDatabase(DATABASE_URL);
  const schema = `t_${randomBytes(5).toString('hex')}`;
  const admin = createSequelize({ url: DATABASE_URL, log: quietLog });
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.close();
  const db = createSequelize({ url: DATABASE_URL, log: quietLog, schema });
  await migrate(db, schema);
  return {
    schema,
    db,
    async drop() {
      await db.query(`DROP SCHEMA ${schema} CASCADE`);
      await db.close();
    },
  };
}
