import type { Migration } from './migration.js';

/**
 * The tables of DESIGN §6. `orders.user_id` is the access token's subject as text: the purchase path
 * accepts any valid token and must never lose an accepted order over a missing users row.
 */
export const initial: Migration = {
  name: '0001-initial',
  async up({ context: q }) {
    await q.sequelize.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY,
        email text NOT NULL,
        password_hash text NOT NULL,
        role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX users_email_key ON users (lower(email));

      CREATE TABLE refresh_tokens (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        family_id uuid NOT NULL,
        token_hash text NOT NULL UNIQUE,
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

      CREATE TABLE products (
        id uuid PRIMARY KEY,
        sku text NOT NULL UNIQUE,
        name text NOT NULL,
        original_price numeric(14, 2) CHECK (original_price >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE seckill_activities (
        id uuid PRIMARY KEY,
        name text NOT NULL UNIQUE,
        product_id uuid NOT NULL REFERENCES products (id),
        total_stock integer NOT NULL CHECK (total_stock >= 0),
        sold integer NOT NULL DEFAULT 0 CHECK (sold >= 0),
        max_per_user integer NOT NULL CHECK (max_per_user >= 1),
        start_time timestamptz NOT NULL,
        end_time timestamptz NOT NULL,
        payment_window_seconds integer NOT NULL CHECK (payment_window_seconds > 0),
        price numeric(14, 2) NOT NULL CHECK (price >= 0),
        paused boolean NOT NULL DEFAULT false,
        spec jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT seckill_activities_sold_le_total CHECK (sold <= total_stock),
        CONSTRAINT seckill_activities_window CHECK (end_time > start_time)
      );

      CREATE TABLE orders (
        id uuid PRIMARY KEY,
        user_id text NOT NULL,
        activity_id uuid NOT NULL REFERENCES seckill_activities (id),
        quantity integer NOT NULL CHECK (quantity >= 1),
        amount numeric(14, 2) NOT NULL,
        status text NOT NULL CHECK (status IN ('pending_payment', 'paid', 'closed', 'failed')),
        payment_deadline timestamptz NOT NULL,
        request_id text,
        paid_at timestamptz,
        closed_at timestamptz,
        close_reason text,
        stock_returned_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT orders_activity_user_key UNIQUE (activity_id, user_id)
      );
      -- The payment-timeout sweeper reads only pending orders, by deadline.
      CREATE INDEX orders_pending_deadline_idx ON orders (payment_deadline) WHERE status = 'pending_payment';
      -- Closed or failed orders whose unit has not been given back to Redis yet (the stock outbox).
      CREATE INDEX orders_unreturned_idx ON orders (activity_id) WHERE status IN ('closed', 'failed') AND stock_returned_at IS NULL;
      CREATE INDEX orders_user_idx ON orders (user_id, created_at DESC);
    `);
  },
  async down({ context: q }) {
    await q.sequelize.query('DROP TABLE orders, seckill_activities, products, refresh_tokens, users');
  },
};
