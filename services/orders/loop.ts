import type { Logger } from '../core/log.js';

/** Runs `fn` every `ms` without overlapping runs; `stop` waits for the run in progress. */
export function every(
  ms: number,
  name: string,
  log: Logger,
  fn: () => Promise<unknown>,
): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  const tick = () => {
    if (stopped) return;
    running = fn()
      .catch((err: unknown) => log.warn({ err: (err as Error).message, loop: name }, 'periodic task failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, ms);
      });
  };
  timer = setTimeout(tick, ms);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
