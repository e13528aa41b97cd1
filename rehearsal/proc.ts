import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

/** The checkout's root: the nearest directory above this file with a package.json (from src or dist/). */
export function repoRoot(): string {
  let dir = dirname(new URL(import.meta.url).pathname);
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The processes of the rehearsal cluster: spawned with a tail of their log kept for error messages. */
export interface Proc {
  name: string;
  child: ChildProcess;
  log(): string;
  /** Set when the process could not be started (a missing binary: run `npm run tools`). */
  error?: Error;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A one-member etcd on loopback, as the envtest and the rehearsal cluster run it. */
export function etcdArgs(name: string, dataDir: string, clientUrl: string, peerUrl: string): string[] {
  return [
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${name}=${peerUrl}`,
    '--log-level=error',
  ];
}

/** `env`: the child's whole environment (it inherits this process' when unset). */
export function launch(name: string, bin: string, args: string[], env?: NodeJS.ProcessEnv): Proc {
  let tail = '';
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
  const keep = (c: Buffer) => (tail = (tail + c.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const proc: Proc = { name, child, log: () => tail };
  child.on('error', (err) => (proc.error = err));
  return proc;
}

/** The HTTP status of a GET over TLS (the components serve self-signed certificates); 0 if unreachable. */
export function httpsStatus(url: string, token?: string): Promise<number> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const req = request(url, { headers, rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Polls `probe` until it holds; fails early, with the process' log, if the process exits. */
export async function until(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  proc?: Proc,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (proc?.error) throw new Error(`${what}: ${proc.name} did not start: ${proc.error.message}`);
    if (proc && proc.child.exitCode !== null)
      throw new Error(`${what}: ${proc.name} exited with ${proc.child.exitCode}\n${proc.log()}`);
    if (Date.now() > deadline)
      throw new Error(`${what}: not ready after ${timeoutMs} ms\n${proc?.log() ?? ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the process exited. */
export async function stopProc(p: Proc | null | undefined): Promise<void> {
  const child = p?.child;
  if (!child || p?.error || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
