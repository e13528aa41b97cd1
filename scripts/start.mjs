// `npm start`: the whole platform on this machine. Checks that Postgres, Redis and RabbitMQ answer (naming
// any that does not and how to start it), builds if needed, migrates, then runs every service as its own
// supervised process: one that dies is logged and restarted with back-off; Ctrl-C stops them all cleanly.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { staleBuild } from './stale-build.mjs';
import { connect } from 'node:net';
import { availableParallelism } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
// On one machine every shopper comes from 127.0.0.1: a per-IP limit would only throttle the demo.
const env = { SECKILL_RATE_PER_IP: '0', ...process.env };
// A laptop's platform is for this laptop: loopback only unless the caller says otherwise (LISTEN_HOST=0.0.0.0
// to show it on the LAN). The processes themselves default to 0.0.0.0, which a pod needs.
env.LISTEN_HOST ||= '127.0.0.1';
const wildcard = ['0.0.0.0', '::', '[::]'].includes(env.LISTEN_HOST);
// Where this machine reaches what listens on LISTEN_HOST (the api's proxy to the seckill, the URLs printed).
const reach = wildcard
  ? '127.0.0.1'
  : env.LISTEN_HOST.includes(':')
    ? `[${env.LISTEN_HOST}]`
    : env.LISTEN_HOST;
const SERVICES = [
  {
    name: 'api',
    main: 'dist/services/api/main.js',
    port: env.API_PORT ?? '8080',
    // The storefront at / calls /seckill/… on its own origin; without an Ingress the api passes them on.
    // Paying without a payment provider is a demo feature (issue 20): on here, off unless asked elsewhere.
    env: {
      SECKILL_URL: env.SECKILL_URL ?? `http://${reach}:${env.SECKILL_PORT ?? '8081'}`,
      PAYMENT_SIMULATION: env.PAYMENT_SIMULATION ?? 'true',
    },
  },
  { name: 'seckill', main: 'dist/services/seckill/main.js', port: env.SECKILL_PORT ?? '8081' },
  { name: 'orders', main: 'dist/services/orders/main.js', port: env.ORDERS_PORT ?? '8082' },
];
const DEPENDENCIES = [
  {
    name: 'PostgreSQL',
    url: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/stampede',
    port: 5432,
    how: 'pg_ctlcluster $(ls /etc/postgresql) main start   (or: docker compose -f docker/compose.yaml up -d postgres)',
  },
  {
    name: 'Redis',
    url: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    port: 6379,
    how: 'redis-server --daemonize yes   (or: docker compose -f docker/compose.yaml up -d redis)',
  },
  {
    name: 'RabbitMQ',
    url: env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    port: 5672,
    how: 'rabbitmq-server -detached   (or: docker compose -f docker/compose.yaml up -d rabbitmq)',
  },
];

function reachable(url, fallbackPort) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port || fallbackPort), timeout: 2000 });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });
}

async function checkDependencies() {
  const down = [];
  for (const d of DEPENDENCIES) if (!(await reachable(d.url, d.port))) down.push(d);
  if (down.length === 0) return;
  for (const d of down)
    console.error(`stampede: ${d.name} does not answer at ${new URL(d.url).host}\n  start it: ${d.how}`);
  process.exit(1);
}

/**
 * The secrets the caller did not set come from .stampede/secrets.json (random, made once per checkout,
 * mode 0600), never the development defaults printed in the source (issue 20 point 11).
 */
async function useCheckoutSecrets() {
  const { DEV_SECRET_NAMES, devSecretsPath, ensureDevSecrets } = await import(
    `${root}dist/services/core/dev-secrets.js`
  );
  const missing = DEV_SECRET_NAMES.filter((n) => !env[n]);
  if (missing.length === 0) return;
  const path = devSecretsPath(root);
  const secrets = ensureDevSecrets(path);
  for (const n of missing) env[n] = secrets[n];
  console.log(
    `stampede: ${missing.join(', ')} from ${relative(root, path)} (generated once for this checkout)`,
  );
}

function runOnce(args, what) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error(`stampede: ${what} failed`);
    process.exit(r.status ?? 1);
  }
}

// Extra node flags for every service (and, inherited, every seckill worker): how to profile the platform
// under load, e.g. STAMPEDE_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (NODE_OPTIONS refuses --cpu-prof).
const NODE_ARGS = (env.STAMPEDE_NODE_ARGS ?? '').split(' ').filter(Boolean);
const children = new Map();
let stopping = false;

function supervise(svc, attempt = 0) {
  // The IPC channel closes when this supervisor dies, however it dies: the services then stop themselves.
  const child = spawn(process.execPath, [...NODE_ARGS, svc.main], {
    cwd: root,
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...env, ...svc.env, PORT: svc.port },
  });
  const started = Date.now();
  children.set(svc.name, child);
  console.log(`stampede: ${svc.name} started (pid ${child.pid})`);
  child.on('exit', (code, signal) => {
    children.delete(svc.name);
    if (stopping) return;
    // A process that ran for a while restarts at once; one that keeps dying backs off up to 10 s.
    const next = Date.now() - started > 30_000 ? 0 : attempt + 1;
    const delay = Math.min(10_000, 250 * 2 ** next);
    console.error(`stampede: ${svc.name} exited (${signal ?? code}); restarting in ${delay} ms`);
    setTimeout(() => supervise(svc, next), delay).unref();
  });
}

function stopAll(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`\nstampede: ${signal}, stopping ${[...children.keys()].join(', ')}`);
  for (const child of children.values()) child.kill('SIGTERM');
  const force = setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
  }, 30_000);
  const done = setInterval(() => {
    if (children.size === 0) {
      clearInterval(done);
      clearTimeout(force);
      process.exit(0);
    }
  }, 100);
}

await checkDependencies();
const why = staleBuild(root, env);
if (why) {
  console.log(`stampede: building (${why})`);
  runOnce(['scripts/build.mjs'], 'build');
}
if (existsSync(`${root}dist/services/cli/main.js`))
  runOnce(['dist/services/cli/main.js', 'migrate'], 'migrate');
await useCheckoutSecrets();
const present = SERVICES.filter((s) => existsSync(`${root}${s.main}`));
for (const svc of present) supervise(svc);
process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
console.log('stampede: running');
const seckillWorkers = env.SECKILL_WORKERS ?? String(availableParallelism());
for (const s of present) {
  const note = s.name === 'seckill' ? `, ${seckillWorkers} worker processes` : '';
  console.log(`  ${s.name.padEnd(8)} http://${reach}:${s.port}  (health /healthz, metrics /metrics${note})`);
}
if (present.some((s) => s.name === 'api')) console.log(`  storefront http://${reach}:${SERVICES[0].port}/`);
console.log(
  wildcard
    ? `  listening on every interface (LISTEN_HOST=${env.LISTEN_HOST}): reachable from other machines`
    : `  listening on ${env.LISTEN_HOST} only (LISTEN_HOST=0.0.0.0 opens it to other machines)`,
);
console.log('  Ctrl-C stops everything');
