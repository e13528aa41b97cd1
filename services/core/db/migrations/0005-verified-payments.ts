import type { Migration } from './migration.js';

/**
 * Issue 20 (points 12 and 13). `users.email_verified`: an account buys only once it followed the signed
 * link mailed at registration; accounts from before stay unverified until they ask for a new link (the
 * configured admin is verified by the api at start). `payment_events` keeps what the provider said was paid
 * (`amount`, `currency`), so a refused delivery (result `mismatch`) is on record next to the order.
 */
export const verifiedPayments: Migration = {
  name: '0005-verified-payments',
  async up({ context: q }) {
    await q.sequelize.query(`
      ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;
      UPDATE users SET email_verified = true WHERE role = 'admin';
      ALTER TABLE payment_events ADD COLUMN amount numeric(14, 2), ADD COLUMN currency text;
    `);
  },
  async down({ context: q }) {
    await q.sequelize.query(`
      ALTER TABLE payment_events DROP COLUMN currency, DROP COLUMN amount;
      ALTER TABLE users DROP COLUMN email_verified;
    `);
  },
};
