import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = new URL('../../bench/wrk/shoppers.lua', import.meta.url).pathname;
const TIMELINE_SCRIPT = new URL('../../bench/wrk/timeline.lua', import.meta.url).pathname;

export interface WrkResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Socket errors and timeouts. */
  errors: number;
  /** Answers with a status of 400 or above (a purchase scenario's refusals are expected). */
  non2xx: number;
  /** With `timeline`: `<ms>:<answers>/<202s>` per 50-ms slice of the run's first 3 s (bench/wrk/timeline.lua). */
  timeline?: string;
}

/** True when `wrk` runs; the bench tries Debian's package once when it is missing and it may install. */
export function ensureWrk(): string | null {
  const works = () => {
    try {
      execFileSync('wrk', ['--version'], { stdio: 'ignore' });
      return true;
    } catch (err) {
      // `wrk --version` prints its banner and exits 1: only a missing binary is a failure here.
      return (err as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  };
  if (works()) return null;
  if (process.getuid?.() === 0) {
    try {
      execFileSync('apt-get', ['install', '-y', '-q', 'wrk'], { stdio: 'ignore' });
    } catch {
      // An outdated package list: refresh once and retry below.
      execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore' });
      execFileSync('apt-get', ['install', '-y', '-q', 'wrk'], { stdio: 'ignore' });
    }
    if (works()) return null;
  }
  return 'wrk is missing: install it with `apt-get install wrk` (Debian) and run `npm run bench` again';
}

export function writeTokens(path: string, tokens: string[]): string {
  writeFileSync(path, tokens.join('\n') + '\n');
  return path;
}

export interface WrkLoad {
  url: string;
  path: string;
  tokensFile?: string;
  connections: number;
  durationSeconds: number;
  /** POST (the default: purchases, joins) or GET (status polls); GET needs a tokens file. */
  method?: 'GET' | 'POST';
  /** Count the answers per 50-ms slice (a diagnosis: it costs wrk CPU on every answer). */
  timeline?: boolean;
}

/** One thread (the measurement), keep-alive connections, the shopper script's requests. */
export async function wrk(o: WrkLoad): Promise<WrkResult> {
  const args = ['-t1', `-c${o.connections}`, `-d${o.durationSeconds}s`, '--latency', '--timeout', '10s'];
  args.push(
    '-s',
    o.timeline ? TIMELINE_SCRIPT : SCRIPT,
    o.url,
    '--',
    o.path,
    ...(o.tokensFile ? [o.tokensFile] : []),
  );
  if (o.method === 'GET') {
    if (!o.tokensFile) throw new Error('a GET load needs a tokens file');
    args.push('GET');
  }
  const { stdout } = await run('wrk', args, { maxBuffer: 8 << 20 });
  const line = /WRK_JSON (\{.*\})/.exec(stdout)?.[1];
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const r = JSON.parse(line) as Record<string, number>;
  const ms = (us: number | undefined) => (us ?? 0) / 1000;
  return {
    requests: r.requests ?? 0,
    rps: (r.requests ?? 0) / ((r.durationUs ?? 1) / 1e6),
    p50Ms: ms(r.p50Us),
    p90Ms: ms(r.p90Us),
    p99Ms: ms(r.p99Us),
    maxMs: ms(r.maxUs),
    errors: (r.connect ?? 0) + (r.read ?? 0) + (r.write ?? 0) + (r.timeout ?? 0),
    non2xx: r.status ?? 0,
    ...(o.timeline ? { timeline: /WRK_TIMELINE (.*)/.exec(stdout)?.[1] ?? '' } : {}),
  };
}
