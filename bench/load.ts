import { spawn, type ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';

export interface LoadResult {
  rps: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
}

export interface Served {
  url: string;
  child: ChildProcess;
}

/** Starts `bench/server.js <mode>` in a child process and waits for its port. */
export function serve(mode: string, env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [new URL('./server.js', import.meta.url).pathname, mode], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /port=(\d+)/.exec(out);
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}`, child });
    });
    child.on('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}

export interface LoadOptions {
  url: string;
  path: string;
  connections: number;
  durationSeconds: number;
  /** Called per request: returns the Authorization header value. */
  auth?: () => string;
  body?: string;
}

/** The same autocannon load for every target: POST, keep-alive, fixed connections and duration. */
export async function load(o: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: o.url + o.path,
    connections: o.connections,
    duration: o.durationSeconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: o.body ?? '{}',
    requests: [
      {
        setupRequest: (req: autocannon.Request) => {
          if (o.auth) req.headers = { ...req.headers, authorization: o.auth() };
          return req;
        },
      },
    ],
  });
  const codes: Record<string, number> = {};
  const r = result as unknown as Record<string, unknown>;
  for (const k of ['1xx', '2xx', '3xx', '4xx', '5xx']) codes[k] = Number(r[k] ?? 0);
  return {
    rps: result.requests.average,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    statusCodes: codes,
  };
}
