import type { QueryInterface } from 'sequelize';
import type { MigrationParams } from 'umzug';

/** One schema step; the list in `../migrate.ts` orders them. */
export interface Migration {
  name: string;
  up(p: MigrationParams<QueryInterface>): Promise<void>;
  down(p: MigrationParams<QueryInterface>): Promise<void>;
}
