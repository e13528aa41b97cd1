import { ConfigError } from '../services/core/config.js';
import { gracefulShutdown, listen, onSignals } from '../services/core/http/server.js';
import { createLogger } from '../services/core/log.js';
import { startTracing } from '../services/core/tracing.js';
import { loadOperatorConfig } from './config.js';
import { buildOperator } from './service.js';

async function main(): Promise<void> {
  const config = loadOperatorConfig();
  const log = createLogger('operator', config.logLevel);
  const tracing = startTracing('operator', config.tracing);
  const operator = buildOperator(config, log);
  await operator.start();
  const server = await listen(operator.app, config.port, config.listenHost);
  log.info(
    { host: config.listenHost, port: config.port, namespace: config.watchNamespace || '(all)' },
    'operator running',
  );
  onSignals(
    gracefulShutdown({
      log,
      readiness: operator.readiness,
      server,
      delayMs: 0,
      drainTimeoutMs: 5_000,
      closers: [...operator.closers, { name: 'tracing', close: () => tracing.shutdown() }],
    }),
    log,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
