import { createLogger } from '../services/core/log.js';
import { MAX_DELAY_MS, WorkQueue } from './queue.js';

const log = createLogger('test', 'silent');

describe('WorkQueue', () => {
  it('caps a delay Node cannot sleep (above 2^31−1 ms fires at once) to MAX_DELAY_MS', async () => {
    const runs: string[] = [];
    const q = new WorkQueue(async (key) => {
      runs.push(key);
      return null;
    }, log);
    q.add('far', 30 * 86_400_000);
    q.add('now', 0);
    // 'now' runs on the next timer tick; 'far' must not have run with it.
    await new Promise((r) => setTimeout(r, 200));
    expect(runs).toEqual(['now']);
    expect(MAX_DELAY_MS).toBeLessThan(2 ** 31 - 1);
    q.stop();
  });
});
