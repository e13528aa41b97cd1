import { jest } from '@jest/globals';
import { FixedTimeouts } from './timeout.js';

const never = () => new Promise<never>(() => undefined);

/** Settles pending promise callbacks (fake timers do not run microtasks). */
const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('FixedTimeouts (one timer for many calls of one length)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('passes a value or an error through when the call settles in time', async () => {
    const t = new FixedTimeouts(100, 'script');
    await expect(t.race(Promise.resolve(7))).resolves.toBe(7);
    await expect(t.race(Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    jest.advanceTimersByTime(100);
    expect(t.size).toBe(0);
  });

  it('rejects a call that has not settled once its length has passed, and not before', async () => {
    const t = new FixedTimeouts(100, 'purchase script');
    let outcome = '';
    t.race(never()).catch((e: Error) => (outcome = e.message));
    jest.advanceTimersByTime(99);
    await flush();
    expect(outcome).toBe('');
    jest.advanceTimersByTime(1);
    await flush();
    expect(outcome).toBe('purchase script timed out after 100 ms');
  });

  it('times each call from its own start, with settled calls in between', async () => {
    const t = new FixedTimeouts(100, 'script');
    const seen: string[] = [];
    const watch = (name: string, p: Promise<unknown>) =>
      p.then(
        () => seen.push(`${name} ok`),
        () => seen.push(`${name} timed out`),
      );
    void watch('a', t.race(never()));
    jest.advanceTimersByTime(40);
    void watch('b', t.race(Promise.resolve(1)));
    void watch('c', t.race(never()));
    await flush();
    jest.advanceTimersByTime(60);
    await flush();
    expect(seen).toEqual(['b ok', 'a timed out']);
    jest.advanceTimersByTime(39);
    await flush();
    expect(seen).toHaveLength(2);
    jest.advanceTimersByTime(1);
    await flush();
    expect(seen).toEqual(['b ok', 'a timed out', 'c timed out']);
    expect(t.size).toBe(0);
  });

  it('keeps no more than the calls of one length once many have passed', async () => {
    const t = new FixedTimeouts(10, 'script');
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 1000 }, (_, i) => t.race(Promise.resolve(i))));
      jest.advanceTimersByTime(10);
    }
    expect(t.size).toBe(0);
  });
});
