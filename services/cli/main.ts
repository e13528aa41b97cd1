import { readFileSync } from 'node:fs';
import { applyActivity } from '../core/activity/apply.js';
import { ConfigError } from '../core/config.js';
import { createSequelize } from '../core/db/connect.js';
import { ensureDatabase, migrate } from '../core/db/migrate.js';
import { isAppError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { closeRedis, createRedis } from '../core/redis/client.js';
import { loadCliConfig, loadSaleConfig, type CliConfig } from './config.js';
import { parseManifests } from './manifest.js';
import { runSaleCommand } from './sale/index.js';
import { runOrdersCommand } from './replay-parked.js';
import { SALE_USAGE } from './sale/options.js';
import { parseSampleOptions, SAMPLE_USAGE, sampleManifest } from './sample.js';

const USAGE = `usage: stampede <command>
  migrate                 create the database if missing and run migrations
  apply -f <file.yaml>    register and preheat the SeckillActivity manifests in a file (no Kubernetes);
                          --force changes an activity a SeckillActivity in a cluster owns;
                          --adoptable lets a SeckillActivity of the same name take it over
  sample --starts-in D    print a SeckillActivity manifest whose window opens D from now (--help)
  sale [options]          run a flash sale against the running platform and report it (--help)
  orders replay-parked    re-drive parked orders whose unit is still held into rows (--activity A)`;

async function runMigrate(config: CliConfig): Promise<void> {
  if (await ensureDatabase(config.databaseUrl))
    console.log(`created database ${new URL(config.databaseUrl).pathname.slice(1)}`);
  const db = createSequelize({
    url: config.databaseUrl,
    log: createLogger('cli', 'warn'),
    schema: config.databaseSchema,
  });
  try {
    if (config.databaseSchema !== 'public')
      await db.query(`CREATE SCHEMA IF NOT EXISTS ${config.databaseSchema}`);
    const done = await migrate(db, config.databaseSchema);
    console.log(done.length ? `applied ${done.join(', ')}` : 'database is up to date');
  } finally {
    await db.close();
  }
}

async function runApply(config: CliConfig, args: string[]): Promise<void> {
  const i = args.findIndex((a) => a === '-f' || a === '--filename');
  const file = i >= 0 ? args[i + 1] : undefined;
  if (!file) throw new Error('apply needs -f <manifest.yaml>');
  const force = args.includes('--force');
  const adoptable = args.includes('--adoptable');
  const manifests = parseManifests(readFileSync(file === '-' ? 0 : file, 'utf8'));
  const log = createLogger('cli', 'warn');
  const db = createSequelize({ url: config.databaseUrl, log, schema: config.databaseSchema });
  const redis = createRedis({ target: config.redis, log, name: 'cli' });
  try {
    for (const m of manifests) {
      const r = await applyActivity(db, redis, config.prefix, m.name, m.spec, { force, adoptable });
      console.log(
        `seckillactivity/${m.name} ${r.created ? 'created' : 'configured'} (stock ${r.preheat?.remaining}/${r.preheat?.total})`,
      );
    }
  } finally {
    await closeRedis(redis);
    await db.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === 'orders') return runOrdersCommand(args);
  if (command !== 'migrate' && command !== 'apply' && command !== 'sale' && command !== 'sample') {
    console.error(USAGE);
    return 2;
  }
  if (command === 'sample') {
    if (args.includes('--help') || args.includes('-h')) console.log(SAMPLE_USAGE);
    else process.stdout.write(sampleManifest(parseSampleOptions(args)));
    return 0;
  }
  if (command === 'sale' && (args.includes('--help') || args.includes('-h'))) {
    console.log(SALE_USAGE);
    return 0;
  }
  if (command === 'sale') return runSaleCommand(loadSaleConfig(), args);
  const config = loadCliConfig();
  if (command === 'migrate') await runMigrate(config);
  else await runApply(config, args);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError || isAppError(err) || err instanceof Error)
      console.error(`stampede: ${err.message}`);
    else console.error(err);
    process.exit(1);
  },
);
