import { loadSeckillConfig } from './config.js';

describe('seckill config: publish batches (issue 23)', () => {
  it('shares a message among up to 64 orders of one event-loop turn by default', () => {
    expect(loadSeckillConfig({})).toMatchObject({ publishBatchMax: 64, publishBatchMs: 0 });
  });

  it('reads SECKILL_PUBLISH_BATCH_MAX and SECKILL_PUBLISH_BATCH_MS; 1 is one message per order', () => {
    const c = loadSeckillConfig({ SECKILL_PUBLISH_BATCH_MAX: '1', SECKILL_PUBLISH_BATCH_MS: '5' });
    expect(c).toMatchObject({ publishBatchMax: 1, publishBatchMs: 5 });
  });

  it('refuses values outside their bounds', () => {
    expect(() => loadSeckillConfig({ SECKILL_PUBLISH_BATCH_MAX: '0' })).toThrow(/SECKILL_PUBLISH_BATCH_MAX/);
    expect(() => loadSeckillConfig({ SECKILL_PUBLISH_BATCH_MAX: '1001' })).toThrow(
      /SECKILL_PUBLISH_BATCH_MAX/,
    );
    expect(() => loadSeckillConfig({ SECKILL_PUBLISH_BATCH_MS: '101' })).toThrow(/SECKILL_PUBLISH_BATCH_MS/);
  });

  it('keeps SECKILL_DIAGNOSTICS beside them', () => {
    expect(loadSeckillConfig({ SECKILL_DIAGNOSTICS: '1' }).diagnostics).toBe(true);
  });
});
