import { pino, type Logger } from 'pino';
import { logIds } from './tracing.js';

export type { Logger };

/** JSON lines on stdout; `service` and, per request, `reqId` follow an order from HTTP to the row. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // A line written inside a traced request or batch names its trace (W3C ids), to jump from log to trace.
    mixin: () => logIds(),
    redact: { paths: ['req.headers.authorization', 'authorization', 'password'], censor: '[redacted]' },
  });
}
