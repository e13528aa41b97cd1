import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../services/core/log.js';
import { statusOf } from './client.js';

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  log: Logger;
  now?: () => number;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's LeaseLock does it: the holder renews every
 * third of the lease duration; another candidate takes the lease only once it has not been renewed for a
 * whole duration. Every write carries the resourceVersion it read, so two candidates can never both win.
 */
export class LeaderElector {
  private readonly api: k8s.CoordinationV1Api;
  private timer: NodeJS.Timeout | null = null;
  private leading = false;
  private stopped = false;

  constructor(
    kc: k8s.KubeConfig,
    private readonly o: LeaderOptions,
    private readonly onChange: (leading: boolean) => void,
  ) {
    this.api = kc.makeApiClient(k8s.CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let leading = false;
    try {
      leading = await this.tryAcquireOrRenew();
    } catch (err) {
      this.o.log.warn({ err: String((err as Error)?.message ?? err) }, 'lease update failed');
    }
    if (leading !== this.leading) {
      this.leading = leading;
      this.o.log.info({ identity: this.o.identity, leading }, leading ? 'became leader' : 'lost leadership');
      this.onChange(leading);
    }
    this.timer = setTimeout(() => void this.tick(), (this.o.leaseDurationSeconds * 1000) / 3);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new k8s.V1MicroTime((this.o.now ?? Date.now)());
    const { namespace, name, identity, leaseDurationSeconds } = this.o;
    let lease: k8s.V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      await this.api.createNamespacedLease({
        namespace,
        body: {
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < now.getTime();
    if (spec.holderIdentity !== identity && !expired) return false;
    const takeover = spec.holderIdentity !== identity;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: now,
      ...(takeover ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
    };
    try {
      await this.api.replaceNamespacedLease({ namespace, name, body: lease });
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw err;
    }
  }

  /** Stops renewing and releases the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.readNamespacedLease({ namespace: this.o.namespace, name: this.o.name });
      if (lease.spec?.holderIdentity === this.o.identity) {
        lease.spec = { ...lease.spec, leaseDurationSeconds: 1, renewTime: new k8s.V1MicroTime(0) };
        await this.api.replaceNamespacedLease({
          namespace: this.o.namespace,
          name: this.o.name,
          body: lease,
        });
      }
    } catch {
      // the lease simply expires
    }
  }
}
