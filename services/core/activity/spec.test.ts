import { parseDuration } from './duration.js';
import {
  activitySpecSchema,
  decodeRoomRule,
  DEFAULT_DIFFICULTY,
  encodeRoomRule,
  infoFromSpec,
} from './spec.js';

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
    expect(s.scaling).toEqual({ leadTime: '5m', capacityLead: '15m', cooldown: '10m', targets: [] });
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
    [
      'a capacityLead below the scaling lead',
      { scaling: { leadTime: '5m', capacityLead: '4m' } },
      'scaling.capacityLead',
    ],
    [
      'a capacityLead below the default scaling lead',
      { scaling: { capacityLead: '90s' } },
      'scaling.capacityLead',
    ],
    ['an unknown field', { colour: 'red' }, ''],
  ])('refuses %s', (_what, over, path) => {
    const r = activitySpecSchema.safeParse({ ...spec, ...over });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('takes a capacityLead equal to the scaling lead', () => {
    const s = activitySpecSchema.parse({ ...spec, scaling: { leadTime: '20m', capacityLead: '20m' } });
    expect(s.scaling.capacityLead).toBe('20m');
  });

  it.each([
    ['a room opening before the preheat', { waitingRoom: { enabled: true, opensBefore: '11m' } }],
    ['admitPerSecond 0', { waitingRoom: { enabled: true, admitPerSecond: 0 } }],
    ['maxActive above 10000', { waitingRoom: { maxActive: 10_001 } }],
    ['a zero admissionTtl', { waitingRoom: { admissionTtl: '0s' } }],
    ['an unknown room challenge', { waitingRoom: { challenge: 'captcha' } }],
    ['an unknown room field', { waitingRoom: { size: 5 } }],
  ])('refuses %s', (_what, over) => {
    const r = activitySpecSchema.safeParse({ ...spec, ...over });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues[0]?.path.slice(0, 1)).toEqual(['waitingRoom']);
  });
});

describe('openWhen spec (docs/open-when.md)', () => {
  it('opens at the start by default, with a maxOpenDelay of 5m', () => {
    expect(activitySpecSchema.parse(spec)).toMatchObject({ openWhen: 'start', maxOpenDelay: '5m' });
  });

  it('takes capacityReady with a delay of up to 1h, or 0s, ending before the window does', () => {
    for (const maxOpenDelay of ['0s', '3s', '29m59s', '1h']) {
      const window = { start: spec.window.start, end: '2026-11-11T01:30:00Z' };
      const r = activitySpecSchema.safeParse({ ...spec, window, openWhen: 'capacityReady', maxOpenDelay });
      expect(r.success).toBe(true);
    }
  });

  it('checks the delay against the window only for capacityReady (a sale of seconds keeps the default)', () => {
    const short = { start: '2026-11-11T00:00:00Z', end: '2026-11-11T00:00:10Z' };
    expect(activitySpecSchema.safeParse({ ...spec, window: short }).success).toBe(true);
    const r = activitySpecSchema.safeParse({ ...spec, window: short, openWhen: 'capacityReady' });
    expect(r.success).toBe(false);
    if (!r.success)
      expect(r.error.issues.map((i) => i.message)).toContain(
        'window.start + maxOpenDelay must be before window.end',
      );
  });

  it.each([
    ['a delay above 1h', { maxOpenDelay: '61m' }, 'maxOpenDelay'],
    ['a delay reaching the end', { openWhen: 'capacityReady', maxOpenDelay: '30m' }, 'maxOpenDelay'],
    ['a delay without a unit', { maxOpenDelay: '300' }, 'maxOpenDelay'],
    ['an unknown openWhen', { openWhen: 'soldOut' }, 'openWhen'],
  ])('refuses %s', (_what, over, path) => {
    const r = activitySpecSchema.safeParse({ ...spec, ...over });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('puts the opening the operator decided into the hot-path info', () => {
    const s = activitySpecSchema.parse({ ...spec, openWhen: 'capacityReady' });
    expect(infoFromSpec('iphone', s).startMs).toBe(Date.parse(spec.window.start));
    expect(infoFromSpec('iphone', s, Date.parse('2026-11-11T00:05:00Z')).startMs).toBe(
      Date.parse('2026-11-11T00:05:00Z'),
    );
  });
});

describe('waiting room spec', () => {
  const room = (waitingRoom: unknown, over: object = {}) =>
    activitySpecSchema.parse({ ...spec, waitingRoom, ...over });

  it('fills the defaults of docs/waiting-room.md', () => {
    expect(room({}).waitingRoom).toEqual({
      enabled: false,
      opensBefore: '10m',
      admitPerSecond: 50,
      maxActive: 500,
      admissionTtl: '2m',
      challenge: 'none',
    });
    expect(activitySpecSchema.parse(spec).waitingRoom).toBeUndefined();
  });

  it('leaves the hot-path info alone while the room is disabled, whatever else it says', () => {
    const info = infoFromSpec('iphone', room({ enabled: false, opensBefore: '1h' }));
    expect(info).not.toHaveProperty('waitingRoom');
    expect(info).not.toHaveProperty('purchaseToken');
  });

  it('checks opensBefore against the preheat lead only when enabled, and allows 0s', () => {
    expect(room({ opensBefore: '1h' }).waitingRoom?.opensBefore).toBe('1h');
    expect(room({ enabled: true, opensBefore: '0s' }).waitingRoom?.opensBefore).toBe('0s');
    expect(room({ enabled: true, opensBefore: '30m' }, { preheat: { leadTime: '30m' } })).toBeTruthy();
    const r = activitySpecSchema.safeParse({
      ...spec,
      preheat: { leadTime: '2s' },
      waitingRoom: { enabled: true },
    });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues[0]?.message).toMatch(/opensBefore must be <= preheat.leadTime/);
  });

  it('makes an enabled room a token sale with the admission token, keeping the pow difficulty', () => {
    const info = infoFromSpec(
      'iphone',
      room(
        {
          enabled: true,
          opensBefore: '5m',
          admitPerSecond: 20,
          maxActive: 80,
          admissionTtl: '90s',
          challenge: 'pow',
        },
        { purchaseToken: { required: true, challenge: 'pow', difficulty: 2000 } },
      ),
    );
    expect(info.purchaseToken).toEqual({ challenge: 'none', difficulty: 2000 });
    expect(info.waitingRoom).toEqual({
      opensBeforeMs: 300_000,
      admitPerSecond: 20,
      maxActive: 80,
      admissionTtlMs: 90_000,
      challenge: 'pow',
      difficulty: 2000,
    });
    const plain = infoFromSpec('iphone', room({ enabled: true, admissionTtl: '1500us' }));
    expect(plain.purchaseToken).toEqual({ challenge: 'none', difficulty: DEFAULT_DIFFICULTY });
    expect(plain.waitingRoom).toMatchObject({ opensBeforeMs: 600_000, admissionTtlMs: 2 });
  });

  it('encodes the room field as the doc says and decodes it back', () => {
    const info = infoFromSpec('iphone', room({ enabled: true, challenge: 'pow' }));
    const field = encodeRoomRule(info.waitingRoom);
    expect(field).toBe('600000:50:500:120000:pow');
    expect(decodeRoomRule(field, info.purchaseToken?.difficulty)).toEqual(info.waitingRoom);
    expect(encodeRoomRule(undefined)).toBe('');
    for (const bad of [undefined, '', '1:2:3:4', '1:2:3:4:captcha', '1:2:3:4:none:5', 'a:2:3:4:none'])
      expect(decodeRoomRule(bad)).toBeUndefined();
    expect(decodeRoomRule('0:1:1:1:none')?.difficulty).toBe(DEFAULT_DIFFICULTY);
  });
});
