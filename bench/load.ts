import { spawn, type ChildProcess } from 'node:child_process';

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
