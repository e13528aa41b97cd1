import type { StoredActivity } from '../core/activity/preheat.js';
import { AppError } from '../core/errors.js';
import { rejectByInfo } from './purchase.js';
import { saleStatus } from './routes.js';

const a = (over: Partial<StoredActivity['info']> = {}, remaining: number | null = 5): StoredActivity => ({
  info: {
    name: 'x',
    total: 5,
    startMs: 100_000,
    endMs: 200_000,
    maxPerUser: 2,
    price: '1.00',
    paused: false,
    ...over,
  },
  remaining,
});
const codeOf = (f: () => void): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    return (e as AppError).code;
  }
};

describe('sale status and in-memory rejections', () => {
  it('names the phase of a sale', () => {
    expect(saleStatus(a(), 50_000)).toBe('upcoming');
    expect(saleStatus(a(), 150_000)).toBe('live');
    expect(saleStatus(a({}, 0), 150_000)).toBe('sold_out');
    expect(saleStatus(a(), 200_000)).toBe('ended');
    expect(saleStatus(a({ paused: true }), 150_000)).toBe('paused');
    expect(saleStatus(a({}, null), 150_000)).toBe('not_preheated');
  });

  it('rejects from memory only outside a clock margin around the window', () => {
    expect(codeOf(() => rejectByInfo(a(), 1, 97_000))).toBe('NOT_STARTED');
    expect(codeOf(() => rejectByInfo(a(), 1, 99_000))).toBeNull();
    expect(codeOf(() => rejectByInfo(a(), 1, 201_000))).toBeNull();
    expect(codeOf(() => rejectByInfo(a(), 1, 203_000))).toBe('ENDED');
    expect(codeOf(() => rejectByInfo(a(), 3, 150_000))).toBe('LIMIT_EXCEEDED');
    expect(codeOf(() => rejectByInfo(a({ paused: true }), 1, 150_000))).toBe('NOT_STARTED');
  });
});
