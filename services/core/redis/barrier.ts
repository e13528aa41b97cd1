import type { Redis } from 'ioredis';

/**
 * Replication is asynchronous: a master killed right after a purchase may take it along, and Sentinel
 * promotes a replica that never saw it. The barrier closes that window for what anyone is told: after a
 * script that wrote, `WAIT n` on the same connection returns once `n` replicas hold every write this
 * connection made. Calls whose replies arrive in the same tick share one WAIT (it blocks the connection,
 * and the purchase path shares one autopipelined connection).
 */
export class ReplicaBarrier {
  private next: Promise<number> | null = null;
  /**
   * Counts connections: a WAIT re-sent after a reconnect (to the promoted master) only speaks for writes
   * made on the new connection, so a WAIT answered on another connection than the write proves nothing.
   */
  private epoch = 0;

  constructor(
    private readonly redis: Redis,
    readonly replicas: number,
    private readonly timeoutMs: number,
  ) {
    redis.on('close', () => this.epoch++);
  }

  /**
   * Call right after a write's reply: resolves when the writes this connection made so far are on
   * `replicas` replicas, rejects when they are not or when the connection changed meanwhile.
   */
  async pass(): Promise<void> {
    const epoch = this.epoch;
    if (!this.next) {
      this.next = new Promise<number>((resolve, reject) => {
        setImmediate(() => {
          this.next = null;
          this.redis.wait(this.replicas, this.timeoutMs).then(resolve, reject);
        });
      });
    }
    const acked = await this.next;
    if (this.epoch !== epoch)
      throw new Error('replication barrier timed out: the connection dropped before the replicas confirmed');
    if (acked < this.replicas)
      throw new Error(`replication barrier timed out: ${acked} of ${this.replicas} replicas acknowledged`);
  }
}

const barriers = new WeakMap<object, ReplicaBarrier>();

export function registerBarrier(client: object, barrier: ReplicaBarrier): void {
  barriers.set(client, barrier);
}

/** The barrier of a client built with REDIS_WAIT_REPLICAS > 0; undefined otherwise (nothing to wait for). */
export function barrierOf(client: object): ReplicaBarrier | undefined {
  return barriers.get(client);
}
