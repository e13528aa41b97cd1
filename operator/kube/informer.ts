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

/** Restart delays after a failed list or watch: 200 ms doubling up to 30 s. */
export const backoffMs = (attempt: number): number => Math.min(30_000, 200 * 2 ** attempt);

/**
 * Watches SeckillActivities through a client-node informer. The library relists by itself on 410 Gone but
 * stops on any other error (a restarted API server, a dropped connection): then it is started again with
 * capped exponential back-off, and every object is handed to `onChange` again after the relist. The
 * back-off resets only after a list succeeded: the informer's `connect` event fires before it even tries to
 * list, so resetting there would retry an API server that is down every 200 ms for ever.
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
  let attempt = 0;
  const list = async () => {
    const items = (await (namespace
      ? custom.listNamespacedCustomObject({ ...base, namespace })
      : custom.listClusterCustomObject(base))) as k8s.KubernetesListObject<k8s.KubernetesObject>;
    attempt = 0;
    return items;
  };
  const informer = k8s.makeInformer(kc, path, list);
  // A restart lists again (so a success can reset the back-off, and every object is seen again): the
  // informer keeps its resourceVersion after an error and would otherwise only re-watch.
  const relist = informer as unknown as { resourceVersion?: string };
  if (typeof relist.resourceVersion !== 'string')
    throw new Error('client-node informer changed: no resourceVersion to reset on restart');
  const emit = (o: k8s.KubernetesObject) =>
    onChange({ namespace: o.metadata?.namespace ?? 'default', name: o.metadata?.name ?? '' });
  informer.on('add', emit);
  informer.on('update', emit);
  informer.on('delete', emit);
  let stopped = false;
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    const delay = backoffMs(attempt++);
    log.warn({ err: String((err as Error)?.message ?? err), delay }, 'watch failed; restarting');
    setTimeout(() => {
      if (stopped) return;
      relist.resourceVersion = '';
      void informer.start().catch(() => undefined);
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
