// Traces through the processes `npm start` runs, exported over OTLP/HTTP to a receiver this test runs:
// one purchase that continues the caller's traceparent is one trace holding the seckill request, the
// publish, the worker's processing of that order and the insert of its row; the batch span links it.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TokenService } from '../../services/core/auth/jwt.js';
import { waitFor } from '../helpers/env.js';
import { ROOT_ADMIN as ADMIN, startPlatform, type Platform } from '../helpers/platform.js';
import { call } from '../helpers/seckill.js';
import { otlpReceiver as receiver } from '../helpers/otlp.js';

describe('traces', () => {
  let p: Platform;
  let r: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    r = await receiver();
    p = await startPlatform({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_TRACES_SAMPLER_ARG: '1' });
  });
  afterAll(async () => {
    await p?.cleanup();
    r?.server.close();
  });

  it('follows one purchase from the request to the insert of its row in one trace', async () => {
    const api = `http://127.0.0.1:${p.ports.api}`;
    const seckill = `http://127.0.0.1:${p.ports.seckill}`;
    const admin = String((await call(api, '/api/auth/login', { body: ADMIN })).body.accessToken);
    const now = Date.now();
    const put = await call(api, '/api/admin/activities/traced-sale', {
      method: 'PUT',
      token: admin,
      body: {
        product: { sku: 'TRACE-1', name: 'Traced', price: '1.00' },
        stock: 5,
        window: { start: new Date(now - 1000).toISOString(), end: new Date(now + 600_000).toISOString() },
      },
    });
    expect(put.status).toBe(201);
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const bought = await call(seckill, '/seckill/traced-sale', {
      token: await new TokenService(p.secrets.JWT_SECRET).sign({ userId: 'tracer-1', role: 'user' }),
      body: {},
      headers: { traceparent: `00-${traceId}-${callerSpan}-01` },
    });
    expect(bought.status).toBe(202);

    const named = (name: string) => r.spans.find((s) => s.traceId === traceId && s.name === name);
    await waitFor(() => named('postgres INSERT orders'), 'the insert span of the order', 30_000);
    const server = named('POST /seckill/:activity');
    const script = named('redis purchase.lua');
    const publish = named('amqp publish order.placed');
    const processed = named('order.placed process');
    const insert = named('postgres INSERT orders');
    expect(server).toMatchObject({ service: 'stampede-seckill', parentSpanId: callerSpan });
    expect(script?.parentSpanId).toBe(server?.spanId);
    expect(publish?.parentSpanId).toBe(server?.spanId);
    expect(processed).toMatchObject({ service: 'stampede-orders', parentSpanId: publish?.spanId });
    expect(insert?.parentSpanId).toBe(processed?.spanId);
    // The batch span lives in its own trace and links the order's publish span.
    const batch = await waitFor(
      () => r.spans.find((s) => s.name === 'orders batch' && s.links?.some((l) => l.traceId === traceId)),
      'the batch span linking the order',
    );
    expect(batch.links).toContainEqual({ traceId, spanId: publish?.spanId });
  });

  it('writes trace_id and span_id into the log lines of a traced operation', async () => {
    const dist = new URL('../../dist/services/core/', import.meta.url).pathname;
    const script = `
      const { startTracing, inSpan } = await import('${dist}tracing.js');
      const { createLogger } = await import('${dist}log.js');
      const t = startTracing('logcheck', { otlpEndpoint: '${r.url}', sampleRatio: 1 });
      const log = createLogger('logcheck', 'info');
      log.info('outside');
      await inSpan('step', async () => log.info('inside'));
      await t.shutdown();`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
    const [outside, inside] = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(outside).not.toHaveProperty('trace_id');
    expect(inside).toMatchObject({ msg: 'inside', trace_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(inside?.span_id).toMatch(/^[0-9a-f]{16}$/);
    await waitFor(
      () => r.spans.some((s) => s.name === 'step' && s.traceId === inside?.trace_id),
      'the step span',
    );
  });
});
