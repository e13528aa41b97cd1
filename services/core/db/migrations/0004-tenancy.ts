import type { Migration } from './migration.js';

/**
 * Tenants of one cluster (issue 20, docs/tenancy.md).
 *
 * `seckill_activities.adoptable`: an activity no SeckillActivity owns (made by the admin API or `stampede
 * apply`) may be claimed by a resource of the same name only when the admin said so; existing unowned
 * activities are not adoptable.
 *
 * `products.owner_namespace`: a product belongs to the namespace whose SeckillActivity made it, or to the
 * admin (NULL), and SKUs are unique per owner: a tenant naming another owner's SKU gets a product of its
 * own instead of rewriting the other's name and original price. Products only activities of one namespace
 * use are handed to that namespace; the rest stay the admin's.
 */
export const tenancy: Migration = {
  name: '0004-tenancy',
  async up({ context: q }) {
    await q.sequelize.query(`
      ALTER TABLE seckill_activities ADD COLUMN adoptable boolean NOT NULL DEFAULT false;
      ALTER TABLE products ADD COLUMN owner_namespace text;
      UPDATE products p SET owner_namespace = o.ns
        FROM (SELECT product_id, min(owner_namespace) AS ns FROM seckill_activities GROUP BY product_id
              HAVING count(*) = count(owner_namespace) AND min(owner_namespace) = max(owner_namespace)) o
        WHERE o.product_id = p.id;
      ALTER TABLE products DROP CONSTRAINT products_sku_key;
      CREATE UNIQUE INDEX products_owner_sku_key ON products ((coalesce(owner_namespace, '')), sku);
    `);
  },
  async down({ context: q }) {
    // Two owners' products of one SKU cannot both survive a unique SKU: down refuses rather than merging.
    await q.sequelize.query(`
      DROP INDEX products_owner_sku_key;
      ALTER TABLE products ADD CONSTRAINT products_sku_key UNIQUE (sku);
      ALTER TABLE products DROP COLUMN owner_namespace;
      ALTER TABLE seckill_activities DROP COLUMN adoptable;
    `);
  },
};
