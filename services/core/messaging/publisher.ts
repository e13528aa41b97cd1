import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { unavailable } from '../errors.js';
import type { AmqpConnection } from './amqp.js';

export interface PublishOptions {
  messageId: string;
  headers?: Record<string, unknown>;
  /** Default `application/json`; a batch of orders names its own type (order-batcher.ts). */
  contentType?: string;
}

interface Pending {
  messageId: string;
  resolve: () => void;
  reject: (e: Error) => void;
  returned: boolean;
  timer: NodeJS.Timeout;
}

/**
 * Publishes persistent, `mandatory` messages and resolves only when the broker confirmed them. A nack, a
 * basic.return (unroutable: RabbitMQ sends it before the ack), a lost channel or the timeout rejects with a
 * 503-typed error, so the caller can undo what the message promised. Each publish is its own entry: a
 * message published twice (an Idempotency-Key replay of the same order) settles each caller once.
 */
export class ConfirmPublisher {
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private wired: ConfirmChannel | null = null;

  constructor(
    private readonly conn: AmqpConnection,
    private readonly exchange: string,
    private readonly timeoutMs: number,
  ) {
    conn.onChange((ch) => {
      if (ch === null) this.failAll('broker connection lost');
    });
  }

  get ready(): boolean {
    return this.conn.channel !== null;
  }

  /** `body` is sent as JSON, or as is when it is already a Buffer (a body built once by its caller). */
  publish(routingKey: string, body: unknown, opts: PublishOptions): Promise<void> {
    const ch = this.conn.channel;
    if (!ch) return Promise.reject(unavailable('message broker unavailable'));
    this.wire(ch);
    const id = ++this.seq;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, 'publish confirm timed out'), this.timeoutMs);
      this.pending.set(id, { messageId: opts.messageId, resolve, reject, returned: false, timer });
      try {
        ch.publish(
          this.exchange,
          routingKey,
          Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)),
          {
            persistent: true,
            mandatory: true,
            contentType: opts.contentType ?? 'application/json',
            messageId: opts.messageId,
            timestamp: Math.floor(Date.now() / 1000),
            headers: opts.headers ?? {},
          },
          (err) => this.settle(id, err ? `broker nacked: ${String(err)}` : null),
        );
      } catch (err) {
        this.settle(id, `publish failed: ${(err as Error).message}`);
      }
    });
  }

  private wire(ch: ConfirmChannel): void {
    if (this.wired === ch) return;
    this.wired = ch;
    // A return names the message, not the publish: every pending publish of that message was unroutable.
    ch.on('return', (msg: ConsumeMessage) => {
      const returned = String(msg.properties.messageId);
      for (const p of this.pending.values()) if (p.messageId === returned) p.returned = true;
    });
  }

  private settle(id: number, failure: string | null): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (failure === null && !p.returned) p.resolve();
    else p.reject(unavailable(failure ?? 'message was unroutable (no queue bound)'));
  }

  private failAll(reason: string): void {
    for (const id of [...this.pending.keys()]) this.settle(id, reason);
  }
}
