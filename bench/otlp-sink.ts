import { createServer, type Server } from 'node:http';

/** An OTLP/HTTP endpoint that accepts and drops every export: the traced scenario's collector stand-in. */
export function otlpSink(): Promise<{ url: string; spans: () => number; close(): void }> {
  let received = 0;
  const server: Server = createServer((req, res) => {
    req.on('data', (c: Buffer) => (received += c.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({ url: `http://127.0.0.1:${port}`, spans: () => received, close: () => server.close() });
    }),
  );
}
