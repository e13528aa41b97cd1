// One server under test per child process, so the load generator (the parent) and the server never share
// a core's event loop. Prints `port=<n>` once listening.
import { createServer } from 'node:http';
import express from 'express';
import { listen, portOf } from '../services/core/http/server.js';
import { createLogger } from '../services/core/log.js';
import { loadSeckillConfig } from '../services/seckill/config.js';
import { buildSeckill } from '../services/seckill/service.js';

async function main(mode: string): Promise<void> {
  if (mode === 'bare') {
    const srv = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"hello":"world"}');
    });
    srv.listen(0, '127.0.0.1', () => console.log(`port=${portOf(srv)}`));
    return;
  }
  if (mode === 'express') {
    const app = express();
    app.post('/hello', express.json(), (_req, res) => {
      res.json({ hello: 'world' });
    });
    const srv = await listen(app, 0, '127.0.0.1');
    console.log(`port=${portOf(srv)}`);
    return;
  }
  const config = loadSeckillConfig({
    ...process.env,
    SECKILL_RATE_GLOBAL: '0',
    SECKILL_RATE_PER_IP: '0',
    SECKILL_RATE_PER_USER: '0',
    PORT: '0',
  });
  const seckill = buildSeckill(config, createLogger('bench', 'warn'));
  await seckill.start();
  const srv = await listen(seckill.app, 0, '127.0.0.1');
  console.log(`port=${portOf(srv)}`);
}

// Exit cleanly on a signal so `node --cpu-prof bench/server.js` writes its profile.
process.once('SIGINT', () => process.exit(0));
void main(process.argv[2] ?? 'bare');
