import { describe, expect, it } from 'vitest';
import { MarketEngine } from '../../src/engine/market-engine.js';
import { buildHttpApp } from '../../src/http/app.js';
import type { HttpDeps } from '../../src/http/app.js';
import { healthAnswer } from '../../src/http/health.js';
import { Telemetry } from '../../src/obs/telemetry.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { contractErrors } from '../helpers/contract.js';
import { engineConfig } from '../helpers/events.js';

/** GET /health precedence (SPEC §7) over the views the app reads. */

function app(over: Partial<HttpDeps> & { fill?: number } = {}) {
  const queue = new EventQueue(10, true);
  for (let i = 0; i < (over.fill ?? 0); i++) {
    queue.offer('md.events.trade.X', new Uint8Array(1), 'trade', 0, 0, null);
  }
  const engine = new MarketEngine(engineConfig(), 'live');
  const telemetry = new Telemetry(() => queue.fillRatio, { defaultMetrics: false });
  return buildHttpApp({ symbols: engine.symbols, symbolChanges: () => engine.symbolChanges, telemetry, queue, isNatsConnected: () => true, ...over });
}

async function health(deps: Partial<HttpDeps> & { fill?: number } = {}) {
  const a = app(deps);
  try {
    const res = await a.inject({ method: 'GET', url: '/health' });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> };
  } finally {
    await a.close();
  }
}

describe('GET /health', () => {
  it('is ok when connected and nothing is degraded', async () => {
    const h = await health();
    expect(h).toMatchObject({ status: 200, body: { status: 'ok', nats_connected: true, symbols: [] } });
    expect(h.body.reasons).toBeUndefined();
  });

  it('puts NATS first: 503 degraded ["nats"] with the connection error, even while warming or under backpressure', async () => {
    const h = await health({ isNatsConnected: () => false, natsError: () => 'Authorization Violation', warmup: () => ({ messages: 5, elapsed_s: 1 }), fill: 10 });
    expect(h).toEqual({ status: 503, body: { status: 'degraded', reasons: ['nats'], nats_error: 'Authorization Violation', nats_connected: false, uptime_s: expect.any(Number), symbols: [] } });
    const noError = await health({ isNatsConnected: () => false });
    expect(noError.body.nats_error).toBe('not connected');
  });

  it('then a missing JetStream durable or stream: 503 degraded ["jetstream"] with what is missing, even while warming (DECISIONS 88)', async () => {
    const h = await health({ consumerError: () => 'stream MD_EVENTS not found', warmup: () => ({ messages: 5, elapsed_s: 1 }), fill: 10 });
    expect(h).toEqual({ status: 503, body: { status: 'degraded', reasons: ['jetstream'], jetstream_error: 'stream MD_EVENTS not found', nats_connected: true, uptime_s: expect.any(Number), symbols: [] } });
    expect((await health({ consumerError: () => null })).body.status).toBe('ok');
    expect((await health({ consumerError: () => 'x', isNatsConnected: () => false })).body.reasons).toEqual(['nats']);
  });

  it('then warming: 503 with the warm-up progress', async () => {
    const h = await health({ warmup: () => ({ messages: 1200, elapsed_s: 2.5 }), fill: 10 });
    expect(h).toMatchObject({ status: 503, body: { status: 'warming', warmup: { messages: 1200, elapsed_s: 2.5 }, nats_connected: true } });
  });

  it('then backpressure: 200 degraded while the queue is at 90 % or events were dropped in the last 10 s', async () => {
    expect(await health({ fill: 9 })).toMatchObject({ status: 200, body: { status: 'degraded', reasons: ['backpressure'] } });
    expect((await health({ fill: 8 })).body.status).toBe('ok');
    expect(await health({ lastBackpressureDropMs: () => Date.now() - 1000 })).toMatchObject({ status: 200, body: { status: 'degraded', reasons: ['backpressure'] } });
    expect((await health({ lastBackpressureDropMs: () => Date.now() - 60_000 })).body.status).toBe('ok');
  });

  it('gives answers the published schema accepts in every state', async () => {
    const states: Parameters<typeof health>[0][] = [
      {},
      { isNatsConnected: () => false, natsError: () => 'Authorization Violation' },
      { isNatsConnected: () => false },
      { warmup: () => ({ messages: 1200, elapsed_s: 2.5 }) },
      { consumerError: () => 'durable senpai-md-consumer not found on stream MD_EVENTS' },
      { fill: 9 },
    ];
    for (const st of states) expect(contractErrors('http-health', (await health(st)).body)).toEqual([]);
  });

  it('orders the reasons and keeps the common fields in every answer', () => {
    const common = { uptimeS: 1, symbols: ['A'], natsError: null, warmup: null };
    expect(healthAnswer({ natsConnected: true, degraded: ['backpressure', 'http_overload'], ...common })).toEqual({
      statusCode: 200,
      body: { status: 'degraded', reasons: ['backpressure', 'http_overload'], nats_connected: true, uptime_s: 1, symbols: ['A'] },
    });
  });
});
