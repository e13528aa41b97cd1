import { RateLimiter } from './rate-limit.js';

describe('RateLimiter', () => {
  it('admits perSecond requests per key per second, then asks to retry after 1 s', () => {
    let now = 10_000;
    const rl = new RateLimiter(2, () => now);
    expect([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('b')]).toEqual([0, 0, 1, 0]);
    now += 999;
    expect(rl.take('a')).toBe(1);
    now += 1;
    expect(rl.take('a')).toBe(0);
  });

  it('is off at 0', () => {
    const rl = new RateLimiter(0);
    expect(Array.from({ length: 100 }, () => rl.take('x')).every((v) => v === 0)).toBe(true);
  });
});
