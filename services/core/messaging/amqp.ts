import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Logger } from '../log.js';

export interface AmqpOptions {
  url: string;
  log: Logger;
  /** Runs on every (re)connected channel before it is handed out: declare topology here. */
  setup?: (ch: ConfirmChannel) => Promise<void>;
  heartbeatSeconds?: number;
  connectTimeoutMs?: number;
  maxBackoffMs?: number;
}

/**
 * One connection and one confirm channel, reconnected with capped exponential back-off for as long as the
 * process lives. While disconnected `channel` is null: callers fail fast instead of queueing.
 */
export class AmqpConnection {
  private conn: ChannelModel | null = null;
  private ch: ConfirmChannel | null = null;
  private closing = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<(ch: ConfirmChannel | null) => void>();

  constructor(private readonly opts: AmqpOptions) {}

  get channel(): ConfirmChannel | null {
    return this.ch;
  }

  /** Called with the new channel on connect and with null on loss. */
  onChange(fn: (ch: ConfirmChannel | null) => void): void {
    this.listeners.add(fn);
  }

  /** Starts connecting; resolves after the first attempt whatever its outcome (readiness tells the rest). */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closing) return;
    try {
      const url = new URL(this.opts.url);
      if (!url.searchParams.has('heartbeat'))
        url.searchParams.set('heartbeat', String(this.opts.heartbeatSeconds ?? 10));
      // Nagle off: amqplib writes a message above 2 KiB (a batch of orders) as two chunks, and with Nagle on
      // the body waits for the broker's delayed ACK of the first, ~40 ms on every such confirm.
      const conn = await amqp.connect(url.toString(), {
        timeout: this.opts.connectTimeoutMs ?? 3000,
        noDelay: true,
      });
      conn.on('error', (err: Error) => this.opts.log.warn({ err: err.message }, 'amqp connection error'));
      conn.on('close', () => this.lost('connection closed'));
      const ch = await conn.createConfirmChannel();
      ch.on('error', (err: Error) => this.opts.log.warn({ err: err.message }, 'amqp channel error'));
      ch.on('close', () => {
        if (this.ch === ch) void conn.close().catch(() => undefined);
      });
      if (this.opts.setup) await this.opts.setup(ch);
      this.conn = conn;
      this.ch = ch;
      this.attempt = 0;
      this.opts.log.info('amqp connected');
      for (const fn of this.listeners) fn(ch);
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message, attempt: this.attempt }, 'amqp connect failed');
      this.schedule();
    }
  }

  private lost(reason: string): void {
    if (this.conn === null && this.ch === null) return;
    this.conn = null;
    this.ch = null;
    for (const fn of this.listeners) fn(null);
    if (!this.closing) {
      this.opts.log.warn({ reason }, 'amqp lost, reconnecting');
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.closing || this.timer) return;
    const delay = Math.min(this.opts.maxBackoffMs ?? 5000, 100 * 2 ** this.attempt++);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    const conn = this.conn;
    this.conn = null;
    this.ch = null;
    if (conn) await conn.close().catch(() => undefined);
  }
}
