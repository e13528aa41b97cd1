import { ConfigError } from '../core/config.js';
import { gracefulShutdown, listen, onSignals } from '../core/http/server.js';
import { createLogger } from '../core/log.js';
import { startTracing } from '../core/tracing.js';
import { loadApiConfig } from './config.js';
import { buildApi } from './service.js';

async function main(): Promise<void> {
  const config = loadApiConfig();
  const log = createLogger('api', config.logLevel);
  const tracing = startTracing('api', config.tracing);
  const api = buildApi(config, log);
  await api.start();
  const server = await listen(api.app, config.port);
  log.info({ port: config.port }, 'api listening');
  onSignals(
    gracefulShutdown({
      log,
      readiness: api.readiness,
      server,
      delayMs: config.shutdownDelaySeconds * 1000,
      drainTimeoutMs: 25_000,
      closers: [...api.closers, { name: 'tracing', close: () => tracing.shutdown() }],
    }),
    log,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
