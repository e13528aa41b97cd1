import { ConfigError } from '../core/config.js';
import { isClusterWorker, runPrimary } from '../core/http/cluster.js';
import { gracefulShutdown, listen, onSignals } from '../core/http/server.js';
import { createLogger } from '../core/log.js';
import { startTracing } from '../core/tracing.js';
import { loadSeckillConfig } from './config.js';
import { buildSeckill } from './service.js';

async function main(): Promise<void> {
  const config = loadSeckillConfig();
  const log = createLogger('seckill', config.logLevel);
  if (config.workers > 1 && !isClusterWorker()) {
    runPrimary({ workers: config.workers, log, stopTimeoutMs: 30_000 });
    return;
  }
  const tracing = startTracing('seckill', config.tracing, { contextManager: false });
  const seckill = buildSeckill(config, log);
  await seckill.start();
  const server = await listen(seckill.app, config.port, config.listenHost);
  log.info({ host: config.listenHost, port: config.port }, 'seckill listening');
  onSignals(
    gracefulShutdown({
      log,
      readiness: seckill.readiness,
      server,
      delayMs: config.shutdownDelaySeconds * 1000,
      drainTimeoutMs: 25_000,
      closers: [...seckill.closers, { name: 'tracing', close: () => tracing.shutdown() }],
    }),
    log,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
