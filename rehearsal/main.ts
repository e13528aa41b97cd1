// `npm run cluster`: the rehearsal cluster on this machine (docs/rehearsal.md). Starts the control plane with
// kwok nodes and the metrics server, installs charts/stampede and runs the operators against the platform of
// `npm start` (CLUSTER_INSTALL=false: the bare cluster), prints how to reach it, stops everything on Ctrl-C.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEV_JWT_SECRET } from '../services/core/config.js';
import { RehearsalCluster } from './cluster.js';
import { loadClusterConfig, type ClusterConfig } from './config.js';
import { REAL_NODE_VALUES, stampedeArchive } from './node/image.js';
import type { RealNode } from './node/node.js';
import { installChart, startOperators, type Operators } from './stack.js';

let stopping = false;

/** The real node's pods run the chart's own operator and reach the platform through the node's relays. */
async function installOnNode(cluster: RehearsalCluster, node: RealNode, c: ClusterConfig): Promise<void> {
  const t0 = Date.now();
  await node.importImage(c.imageArchive ?? (await stampedeArchive(join(cluster.dir, 'stampede-image.tar'))));
  console.log(`real node: Stampede image imported in ${Date.now() - t0} ms`);
  const rel = await installChart(cluster, {
    namespace: c.namespace,
    release: c.release,
    secret: {
      DATABASE_URL: await node.expose(c.databaseUrl),
      REDIS_URL: await node.expose(c.redisUrl),
      AMQP_URL: await node.expose(c.amqpUrl),
      // Real pods run with NODE_ENV=production, which refuses the development default.
      JWT_SECRET: c.jwtSecret === DEV_JWT_SECRET ? randomBytes(32).toString('hex') : c.jwtSecret,
      // The api's pods need one (kwok's never start); the rehearsal has no payment provider to share it.
      PAYMENT_WEBHOOK_SECRET: randomBytes(24).toString('hex'),
    },
    extra: ['-f', REAL_NODE_VALUES, '--set', `env.STAMPEDE_PREFIX=${c.prefix}`],
  });
  console.log(
    `helm: release ${rel.release} installed in namespace ${rel.namespace}, its pods on ${node.name}`,
  );
}

async function install(cluster: RehearsalCluster, c: ClusterConfig): Promise<Operators | null> {
  if (!c.install) return null;
  if (cluster.node) return installOnNode(cluster, cluster.node, c).then(() => null);
  const platform = { DATABASE_URL: c.databaseUrl, REDIS_URL: c.redisUrl, STAMPEDE_PREFIX: c.prefix };
  const rel = await installChart(cluster, {
    namespace: c.namespace,
    release: c.release,
    secret: { ...platform, AMQP_URL: c.amqpUrl, JWT_SECRET: c.jwtSecret },
  });
  console.log(
    `helm: release ${rel.release} installed in namespace ${rel.namespace} (pods simulated by kwok)`,
  );
  if (c.operators === 0) return null;
  const ops = await startOperators(cluster, rel, platform, c.operators);
  for (const p of ops.procs)
    p.child.once('exit', (code) => {
      if (!stopping) console.error(`${p.name} exited (${code}); its last output:\n${p.log()}`);
    });
  console.log(`operator: ${c.operators} processes, leader ${await ops.leader()}`);
  return ops;
}

async function main(): Promise<void> {
  const c = loadClusterConfig();
  if (c.dir && existsSync(join(c.dir, 'etcd')))
    throw new Error(`CLUSTER_DIR ${c.dir} holds an earlier cluster's data: remove it or choose another`);
  const t0 = Date.now();
  const cluster = await RehearsalCluster.start({
    nodes: c.nodes,
    hpaSyncPeriod: c.hpaSyncPeriod,
    dir: c.dir,
    realNode: c.realNode,
  });
  const real = cluster.node
    ? ` and real node ${cluster.node.name} at ${cluster.node.net.nodeIp} (Ready ${cluster.node.readyMs} ms after its kubelet started)`
    : '';
  console.log(
    `rehearsal cluster ready in ${Date.now() - t0} ms: ${c.nodes} kwok nodes${real}, HPA sync ${c.hpaSyncPeriod}`,
  );
  let ops: Operators | null = null;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('stopping…');
    await ops?.stop();
    await cluster.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  try {
    ops = await install(cluster, c);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  console.log(
    [
      '',
      `  export KUBECONFIG=${cluster.kubeconfigPath}`,
      `  kubectl get nodes,pods -A            # .tools/bin/kubectl, or any kubectl`,
      `  npx stampede sample --starts-in 2m | kubectl apply -n ${c.namespace} -f -`,
      `  curl -k -X PUT https://127.0.0.1:${cluster.metricsPort}/rehearsal/cpu \\`,
      `    -d '{"namespace":"${c.namespace}","millicores":300}'   # pod CPU the HPA sees`,
      '',
      'Ctrl-C stops everything.',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
