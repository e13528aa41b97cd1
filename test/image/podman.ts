import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

export interface BuiltImage {
  name: string;
  sizeBytes: number;
  /** The storage flags `npm run image` built into (podman must use the same store). */
  storage: string[];
}

/**
 * Runs `npm run image` (every layer cached when nothing changed; minutes when cold) and reads its last two
 * lines: `storage <dir>` and `image <name> <id> <size>`.
 */
export function buildImage(): Promise<BuiltImage> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'image'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const dir = /^storage (\S+)$/m.exec(out)?.[1];
      const [, name, size] = /^image (\S+) \S+ (\d+)/m.exec(out) ?? [];
      if (code !== 0 || !dir || !name || !size) {
        reject(new Error(`npm run image failed (${code}):\n${(out + err).slice(-4000)}`));
        return;
      }
      resolve({
        name,
        sizeBytes: Number(size),
        storage: ['--root', `${dir}/storage`, '--runroot', `${dir}/run`, '--storage-driver', 'overlay'],
      });
    });
  });
}

/** The securityContext the chart gives every pod, as podman flags (runc: crun refuses this host's cgroups). */
export const RESTRICTED = [
  '--runtime',
  'runc',
  '--ulimit',
  'nofile=20000:20000',
  '--ulimit',
  'nproc=32768:32768',
  '--read-only',
  '--user',
  '10001',
  '--cap-drop',
  'ALL',
];

export class Container {
  readonly name = `stampede-image-test-${randomBytes(4).toString('hex')}`;
  constructor(private readonly image: BuiltImage) {}

  podman(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run('podman', [...this.image.storage, ...args], { maxBuffer: 16 << 20 });
  }

  async start(env: Record<string, string>, cmd: string[] = []): Promise<void> {
    const envFlags = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
    await this.podman(
      'run',
      '--detach',
      '--name',
      this.name,
      ...RESTRICTED,
      '--network',
      'host',
      ...envFlags,
      this.image.name,
      ...cmd,
    );
  }

  /** Runs a command in the container; a non-zero exit comes back as `code`, not as a throw. */
  async exec(...cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const r = await this.podman('exec', this.name, ...cmd);
      return { code: 0, ...r };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      if (typeof e.code !== 'number') throw err;
      return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  async state(): Promise<{ running: boolean; exitCode: number }> {
    const { stdout } = await this.podman(
      'inspect',
      '--format',
      '{{.State.Running}} {{.State.ExitCode}}',
      this.name,
    );
    const [running, exitCode] = stdout.trim().split(' ');
    return { running: running === 'true', exitCode: Number(exitCode) };
  }

  async logs(): Promise<string> {
    const { stdout, stderr } = await this.podman('logs', this.name).catch(() => ({
      stdout: '',
      stderr: '(no logs)',
    }));
    return stdout + stderr;
  }

  async remove(): Promise<void> {
    await this.podman('rm', '--force', '--time', '0', this.name).catch(() => undefined);
  }
}
