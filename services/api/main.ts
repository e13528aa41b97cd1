import { ConfigError } from '../core/config.js';
import { closeListener, listenSplit } from '../core/http/management.js';
import { gracefulShutdown, onSignals } from '../core/http/server.js';
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
  const { server, management } = await listenSplit(
    api.app,
    config.listenHost,
    config.port,
    config.managementPort,
  );
  log.info(
    { host: config.listenHost, port: config.port, managementPort: config.managementPort },
    'api listening',
  );
  onSignals(
    gracefulShutdown({
      log,
      readiness: api.readiness,
      server,
      delayMs: config.shutdownDelaySeconds * 1000,
      drainTimeoutMs: 25_000,
      closers: [
        ...api.closers,
        { name: 'tracing', close: () => tracing.shutdown() },
        ...(management ? [{ name: 'management', close: () => closeListener(management) }] : []),
      ],
    }),
    log,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
