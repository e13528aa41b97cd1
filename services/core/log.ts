import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout; `service` and, per request, `reqId` follow an order from HTTP to the row. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['req.headers.authorization', 'authorization', 'password'], censor: '[redacted]' },
  });
}
