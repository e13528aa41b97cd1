import { execFile } from 'node:child_process';

/** Runs a command to completion; answers its stdout or throws with its stderr (the node's setup steps). */
export function sh(
  bin: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      args,
      { maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 120_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${bin} ${args.join(' ')}: ${err.message.split('\n')[0]}\n${stderr}`));
        else resolve(stdout);
      },
    );
    // A command that reads no input may exit before the write: that EPIPE is not its failure.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input ?? '');
  });
}

/** The same, for cleanup: a step that fails (already gone) must not stop the steps after it. */
export async function shQuiet(bin: string, args: string[]): Promise<void> {
  await sh(bin, args, { timeoutMs: 30_000 }).catch(() => undefined);
}
