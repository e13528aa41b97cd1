import { createServer, Socket, type Server } from 'node:net';

/**
 * A TCP relay from the host's end of the node's veth to a server that listens on loopback only (the API
 * server, Postgres, Redis, RabbitMQ): pods reach them at the veth address, nothing else changes on the
 * machine, and the relay goes away with the harness.
 */
export class Relay {
  private constructor(
    private readonly server: Server,
    private readonly sockets: Set<Socket>,
    readonly host: string,
    readonly port: number,
  ) {}

  static async listen(host: string, port: number, target: { host: string; port: number }): Promise<Relay> {
    const sockets = new Set<Socket>();
    const server = createServer((client) => {
      const upstream = new Socket();
      sockets.add(client).add(upstream);
      const end = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      upstream.connect(target.port, target.host);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return new Relay(server, sockets, host, (server.address() as { port: number }).port);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}
