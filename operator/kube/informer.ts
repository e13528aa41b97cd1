import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../services/core/log.js';
import type { ActivityObject } from '../model.js';
import { toActivity } from './client.js';

export interface ActivityWatch {
  /** Every activity the watch has seen and not seen deleted. */
  list(): ActivityObject[];
  get(namespace: string, name: string): ActivityObject | undefined;
  stop(): Promise<void>;
}

/**
 * Watches SeckillActivities through a client-node informer. The library relists by itself on 410 Gone but
 * stops on any other error (a restarted API server, a dropped connection): then it is started again with
 * capped exponential back-off, and every object is handed to `onChange` again after the relist.
 */
export async function watchActivities(
  kc: k8s.KubeConfig,
  namespace: string,
  log: Logger,
  onChange: (key: { namespace: string; name: string }) => void,
): Promise<ActivityWatch> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const base = { group: 'stampede.dev', version: 'v1alpha1', plural: 'seckillactivities' };
  const path = namespace
    ? `/apis/stampede.dev/v1alpha1/namespaces/${namespace}/seckillactivities`
    : '/apis/stampede.dev/v1alpha1/seckillactivities';
  const list = () =>
    (namespace
      ? custom.listNamespacedCustomObject({ ...base, namespace })
      : custom.listClusterCustomObject(base)) as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>;
  const informer = k8s.makeInformer(kc, path, list);
  const emit = (o: k8s.KubernetesObject) =>
    onChange({ namespace: o.metadata?.namespace ?? 'default', name: o.metadata?.name ?? '' });
  informer.on('add', emit);
  informer.on('update', emit);
  informer.on('delete', emit);
  let stopped = false;
  let attempt = 0;
  informer.on('connect', () => {
    attempt = 0;
  });
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    const delay = Math.min(30_000, 200 * 2 ** attempt++);
    log.warn({ err: String((err as Error)?.message ?? err), delay }, 'watch failed; restarting');
    setTimeout(() => {
      if (!stopped) void informer.start().catch(() => undefined);
    }, delay).unref();
  });
  await informer.start();
  const view = (o: k8s.KubernetesObject) => toActivity(o as unknown as Parameters<typeof toActivity>[0]);
  return {
    list: () => informer.list().map(view),
    get: (ns, name) => {
      const o = informer.get(name, ns);
      return o ? view(o) : undefined;
    },
    async stop() {
      stopped = true;
      await informer.stop();
    },
  };
}
