import type { Migration } from './migration.js';

/** Webhook deliveries already processed, so a replayed or retried event is answered, not applied again. */
export const paymentEvents: Migration = {
  name: '0002-payment-events',
  async up({ context: q }) {
    await q.sequelize.query(`
      CREATE TABLE payment_events (
        event_id text PRIMARY KEY,
        order_id uuid NOT NULL,
        result text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      );
    `);
  },
  async down({ context: q }) {
    await q.sequelize.query('DROP TABLE payment_events');
  },
};
