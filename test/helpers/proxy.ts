import { createServer, Socket, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy in front of a real Redis or RabbitMQ, so a test can take the dependency away from one
 * service without stopping the server every other test uses. `cut` closes every connection and refuses
 * new ones (the server is down); `stall` keeps connections open but holds every byte (the server hangs);
 * `heal` ends either, flushing what a stall held.
 */
export class FaultProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<[Socket, Socket]>();
  private mode: 'pass' | 'stall' | 'cut' = 'pass';
  private readonly held = new Map<Socket, Buffer[]>();
  port = 0;
  /** Sees every chunk that passes, `toServer` for the client's side (tests count commands with it). */
  tap: ((toServer: boolean, chunk: Buffer) => void) | null = null;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static forUrl(url: string): FaultProxy {
    const u = new URL(url);
    return new FaultProxy(u.hostname, Number(u.port));
  }

  /** The same URL with host and port pointing at this proxy. */
  url(original: string): string {
    const u = new URL(original);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString().replace(/\/$/, '');
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private accept(client: Socket): void {
    if (this.mode === 'cut') return void client.destroy();
    const upstream = new Socket();
    upstream.connect(this.targetPort, this.targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        this.tap?.(from === client, chunk);
        if (this.mode === 'stall') this.held.set(to, [...(this.held.get(to) ?? []), chunk]);
        else to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }

  async cut(): Promise<void> {
    this.mode = 'cut';
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  stall(): void {
    this.mode = 'stall';
  }

  heal(): void {
    this.mode = 'pass';
    for (const [to, chunks] of this.held) if (!to.destroyed) for (const c of chunks) to.write(c);
    this.held.clear();
  }

  async stop(): Promise<void> {
    await this.cut();
    await new Promise((r) => this.server?.close(r));
  }
}
