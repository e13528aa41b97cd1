import { EnvReader, readCommon, type CommonConfig, type Env } from '../core/config.js';
import { MAX_RATE } from '../core/rate-limit.js';

export const DEV_WEBHOOK_SECRET = 'stampede-development-webhook-secret-0123456789';

export interface ApiConfig extends CommonConfig {
  port: number;
  webhookSecret: string;
  /** Seconds a signed webhook stays acceptable (replay window). */
  webhookToleranceSeconds: number;
  admin: { email: string; password: string } | null;
  /** Login and register attempts per client IP per minute, cluster-wide (every api replica together). */
  authRatePerMinute: number;
  refreshTokenTtlSeconds: number;
  /** API_REFRESH_RATE_PER_MINUTE: refreshes per client IP per minute, cluster-wide (0 turns it off). */
  refreshRatePerMinute: number;
  /** API_REFRESH_FAMILY_RATE_PER_MINUTE: refreshes per refresh-token family per minute, cluster-wide. */
  refreshFamilyRatePerMinute: number;
  /** SECKILL_URL: where the storefront's `/seckill/…` calls go when no Ingress routes them (npm start). */
  seckillUrl: string | null;
  /** PAYMENT_SIMULATION: serve `POST /api/orders/:id/pay` (a payment without a provider); off by default. */
  paymentSimulation: boolean;
  /** PAYMENT_CURRENCY: the one currency orders are priced in; a webhook naming another is refused. */
  paymentCurrency: string;
  /** MANAGEMENT_PORT: /healthz, /readyz and /metrics only there (never routed by the Ingress); unset: on PORT. */
  managementPort: number | null;
  /** Email verification: SMTP_URL (unset: the link is logged instead), MAIL_FROM, PUBLIC_URL (link base). */
  mail: { smtpUrl: string | null; from: string; publicUrl: string };
}

export function loadApiConfig(env: Env = process.env): ApiConfig {
  const r = new EnvReader(env);
  const common = readCommon(r);
  const webhookSecret = r.str('PAYMENT_WEBHOOK_SECRET', DEV_WEBHOOK_SECRET);
  if (webhookSecret.length < 32) r.problems.push('PAYMENT_WEBHOOK_SECRET: must be at least 32 characters');
  if (common.nodeEnv === 'production' && webhookSecret === DEV_WEBHOOK_SECRET) {
    r.problems.push('PAYMENT_WEBHOOK_SECRET: the development default is refused when NODE_ENV=production');
  }
  const email = r.optional('ADMIN_EMAIL');
  const password = r.optional('ADMIN_PASSWORD');
  if (Boolean(email) !== Boolean(password))
    r.problems.push('ADMIN_EMAIL and ADMIN_PASSWORD: set both or neither');
  if (password !== undefined && password.length < 12)
    r.problems.push('ADMIN_PASSWORD: at least 12 characters');
  const seckillUrl = r.optional('SECKILL_URL') ?? null;
  if (seckillUrl !== null && !/^http:\/\/[^/]+\/?$/.test(seckillUrl))
    r.problems.push('SECKILL_URL: an http://host:port URL');
  const smtpUrl = r.optional('SMTP_URL') ?? null;
  if (smtpUrl !== null && !/^smtps?:\/\/[^/]+/.test(smtpUrl))
    r.problems.push('SMTP_URL: an smtp:// or smtps:// URL, e.g. smtp://user:pass@mail.example.com:587');
  const port = r.int('PORT', 8080, 0, 65535);
  const publicUrl = r.str(
    'PUBLIC_URL',
    `http://127.0.0.1:${port}`,
    /^https?:\/\/[^/]+$/,
    'an origin such as https://shop.example.com (no path)',
  );
  const simulation = r.str('PAYMENT_SIMULATION', 'false', /^(true|false)$/, 'true or false');
  const config: ApiConfig = {
    ...common,
    port,
    managementPort: r.optional('MANAGEMENT_PORT') ? r.int('MANAGEMENT_PORT', 0, 1, 65535) : null,
    webhookSecret,
    webhookToleranceSeconds: r.int('PAYMENT_WEBHOOK_TOLERANCE_SECONDS', 300, 1, 3600),
    admin: email && password ? { email, password } : null,
    authRatePerMinute: r.int('API_AUTH_RATE_PER_MINUTE', 20, 0, MAX_RATE),
    refreshTokenTtlSeconds: r.int('REFRESH_TOKEN_TTL_SECONDS', 7 * 24 * 3600, 60, 90 * 24 * 3600),
    refreshRatePerMinute: r.int('API_REFRESH_RATE_PER_MINUTE', 60, 0, MAX_RATE),
    refreshFamilyRatePerMinute: r.int('API_REFRESH_FAMILY_RATE_PER_MINUTE', 6, 0, MAX_RATE),
    seckillUrl,
    paymentSimulation: simulation === 'true',
    paymentCurrency: r.str('PAYMENT_CURRENCY', 'CNY', /^[A-Z]{3}$/, 'an ISO 4217 code such as CNY'),
    mail: {
      smtpUrl,
      from: r.str('MAIL_FROM', 'Stampede <no-reply@stampede.local>', /^[^\r\n]{3,200}$/, 'one line'),
      publicUrl,
    },
  };
  r.done();
  return config;
}
