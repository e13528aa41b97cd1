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
  /** Give up leading when renewing has not succeeded for this long (default ⅔ of the lease, as 10 s of 15). */
  renewDeadlineMs?: number;
  /** How often to try to acquire or renew (default the lease / 7.5, as 2 s of 15). */
  retryPeriodMs?: number;
}

type Attempt = 'leading' | 'held' | 'failed';

/** Per-request timeout: a stalled API server must not hold a renew past the renew deadline. */
const within = (ms: number): k8s.ConfigurationOptions => ({
  middleware: [
    {
      pre: (ctx: k8s.RequestContext) => {
        ctx.setSignal(AbortSignal.timeout(Math.max(50, ms)) as never);
        return new k8s.Observable(Promise.resolve(ctx));
      },
      post: (r: k8s.ResponseContext) => new k8s.Observable(Promise.resolve(r)),
    },
  ],
  middlewareMergeStrategy: 'append',
});

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
 * - a candidate judges the holder by when *it* last saw the Lease change (its own clock), never by the
 *   holder's `renewTime` against its own clock, so clocks that disagree cannot hand the lease over early;
 * - the leader renews every retry period and stops leading once renewing has not succeeded within the renew
 *   deadline (shorter than the lease), measured from when the last successful renew was sent; a single
 *   failed renew inside the deadline changes nothing;
 * - every write carries the resourceVersion it read, so two candidates can never both win.
 * The leader thus stops at least lease − renew deadline before any standby may take over.
 */
export class LeaderElector {
  private readonly api: k8s.CoordinationV1Api;
  private readonly clock: () => number;
  private readonly deadlineMs: number;
  private readonly retryMs: number;
  private timer: NodeJS.Timeout | null = null;
  private deadline: NodeJS.Timeout | null = null;
  private observed: { version: string; at: number } | null = null;
  private inflight = false;
  private leading = false;
  private stopped = false;

  constructor(
    kc: k8s.KubeConfig,
    private readonly o: LeaderOptions,
    private readonly onChange: (leading: boolean) => void,
  ) {
    this.api = kc.makeApiClient(k8s.CoordinationV1Api);
    this.clock = o.now ?? Date.now;
    const lease = o.leaseDurationSeconds * 1000;
    this.deadlineMs = o.renewDeadlineMs ?? Math.round((lease * 2) / 3);
    this.retryMs = o.retryPeriodMs ?? Math.round(lease / 7.5);
    if (!(this.retryMs < this.deadlineMs && this.deadlineMs < lease))
      throw new Error('leader election needs retry period < renew deadline < lease duration');
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.retryMs);
    if (this.inflight) return; // a slow request: the renew deadline timer decides, not a pile of requests
    this.inflight = true;
    const sentAt = this.clock();
    let result: Attempt = 'failed';
    try {
      result = await this.tryAcquireOrRenew(sentAt);
    } catch (err) {
      this.o.log.warn({ err: String((err as Error)?.message ?? err) }, 'lease update failed');
    } finally {
      this.inflight = false;
    }
    if (this.stopped) return;
    if (result === 'leading') this.renewed(sentAt);
    else if (result === 'held') this.setLeading(false);
  }

  /** A renew sent at `sentAt` succeeded: leading until `sentAt + renew deadline` unless renewed again. */
  private renewed(sentAt: number): void {
    const left = sentAt + this.deadlineMs - this.clock();
    // An answer that took the whole deadline proves nothing about now: a standby may already count down.
    if (left <= 0) return this.setLeading(false);
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = setTimeout(() => {
      this.o.log.warn({ identity: this.o.identity }, 'lease not renewed within the renew deadline');
      this.setLeading(false);
    }, left);
    this.setLeading(true);
  }

  private setLeading(leading: boolean): void {
    if (!leading && this.deadline) clearTimeout(this.deadline);
    if (leading === this.leading) return;
    this.leading = leading;
    this.o.log.info({ identity: this.o.identity, leading }, leading ? 'became leader' : 'lost leadership');
    this.onChange(leading);
  }

  private timeout(): number {
    return this.leading ? this.deadlineMs - this.retryMs : this.deadlineMs;
  }

  private async tryAcquireOrRenew(at: number): Promise<Attempt> {
    const now = new k8s.V1MicroTime(at);
    const { namespace, name, identity, leaseDurationSeconds } = this.o;
    let lease: k8s.V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ namespace, name }, within(this.timeout()));
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      const spec = { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now };
      await this.api.createNamespacedLease(
        { namespace, body: { metadata: { name, namespace }, spec: { ...spec, leaseTransitions: 0 } } },
        within(this.timeout()),
      );
      return 'leading';
    }
    const spec = lease.spec ?? {};
    const version = lease.metadata?.resourceVersion ?? '';
    if (this.observed?.version !== version) this.observed = { version, at };
    const holder = spec.holderIdentity ?? '';
    const duration = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (holder && holder !== identity && this.observed.at + duration > at) return 'held';
    const takeover = holder !== identity;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: now,
      ...(takeover ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
    };
    try {
      await this.api.replaceNamespacedLease({ namespace, name, body: lease }, within(this.timeout()));
      return 'leading';
    } catch (err) {
      // Someone wrote in between: read again next time (a leader rides it out within the deadline).
      if (statusOf(err) === 409) return 'failed';
      throw err;
    }
  }

  /** Stops renewing and releases the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    const { namespace, name } = this.o;
    try {
      const lease = await this.api.readNamespacedLease({ namespace, name }, within(2_000));
      if (lease.spec?.holderIdentity === this.o.identity) {
        lease.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 };
        await this.api.replaceNamespacedLease({ namespace, name, body: lease }, within(2_000));
      }
    } catch {
      // the lease simply expires
    }
  }
}
