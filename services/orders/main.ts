import { ConfigError } from '../core/config.js';
import { gracefulShutdown, listen, onSignals } from '../core/http/server.js';
import { createLogger } from '../core/log.js';
import { startTracing } from '../core/tracing.js';
import { loadOrdersConfig } from './config.js';
import { buildOrders } from './service.js';

async function main(): Promise<void> {
  const config = loadOrdersConfig();
  const log = createLogger('orders', config.logLevel);
  const tracing = startTracing('orders', config.tracing);
  const orders = buildOrders(config, log);
  await orders.start();
  const server = await listen(orders.app, config.port, config.listenHost);
  log.info({ host: config.listenHost, port: config.port }, 'orders worker running');
  onSignals(
    gracefulShutdown({
      log,
      readiness: orders.readiness,
      server,
      delayMs: 0,
      drainTimeoutMs: 10_000,
      closers: [...orders.closers, { name: 'tracing', close: () => tracing.shutdown() }],
    }),
    log,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
