import { parseDuration } from './duration.js';
import { activitySpecSchema, infoFromSpec } from './spec.js';

const spec = {
  product: { sku: 'IPHONE-17-256', name: 'iPhone 17 256 GB', originalPrice: '7999.00', price: '4999.00' },
  stock: 1000,
  window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T00:30:00Z' },
};

describe('activity spec', () => {
  it('parses Go durations', () => {
    expect(parseDuration('3s')).toBe(3000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('15')).toBeNull();
    expect(parseDuration('-5s')).toBeNull();
  });

  it('fills the defaults and derives the hot-path info', () => {
    const s = activitySpecSchema.parse(spec);
    expect(s).toMatchObject({
      maxPerUser: 1,
      paymentWindow: '15m',
      preheat: { leadTime: '10m' },
      paused: false,
    });
    expect(s.scaling).toEqual({ leadTime: '5m', cooldown: '10m', targets: [] });
    expect(infoFromSpec('iphone', s)).toEqual({
      name: 'iphone',
      total: 1000,
      startMs: Date.parse(spec.window.start),
      endMs: Date.parse(spec.window.end),
      maxPerUser: 1,
      price: '4999.00',
      paused: false,
    });
  });

  it.each([
    ['end before start', { window: { start: spec.window.end, end: spec.window.start } }, 'window.end'],
    ['negative stock', { stock: -1 }, 'stock'],
    ['zero maxPerUser', { maxPerUser: 0 }, 'maxPerUser'],
    ['a float price', { product: { ...spec.product, price: 4999.0 } }, 'product.price'],
    ['a bad duration', { paymentWindow: '15 minutes' }, 'paymentWindow'],
    ['an unknown field', { colour: 'red' }, ''],
  ])('refuses %s', (_what, over, path) => {
    const r = activitySpecSchema.safeParse({ ...spec, ...over });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});
