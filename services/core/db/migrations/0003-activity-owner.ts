import type { Migration } from './migration.js';

/**
 * The SeckillActivity that owns an activity id (issue 12): activity ids are bare names, so a second resource
 * of the same name in another namespace must not take over the first one's sale. Both columns are NULL for an
 * activity no resource owns (made by `stampede apply` or the admin API).
 */
export const activityOwner: Migration = {
  name: '0003-activity-owner',
  async up({ context: q }) {
    await q.sequelize.query(`
      ALTER TABLE seckill_activities
        ADD COLUMN owner_namespace text,
        ADD COLUMN owner_uid text,
        ADD CONSTRAINT seckill_activities_owner CHECK ((owner_namespace IS NULL) = (owner_uid IS NULL));
    `);
  },
  async down({ context: q }) {
    await q.sequelize.query(`
      ALTER TABLE seckill_activities
        DROP CONSTRAINT seckill_activities_owner,
        DROP COLUMN owner_uid,
        DROP COLUMN owner_namespace;
    `);
  },
};
