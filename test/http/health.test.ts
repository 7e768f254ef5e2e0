import { describe, expect, it } from 'vitest';
import { MarketEngine } from '../../src/engine/market-engine.js';
import { buildHttpApp } from '../../src/http/app.js';
import { Telemetry } from '../../src/obs/telemetry.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { engineConfig } from '../helpers/events.js';

function app(state: { connected: boolean; error: string | null; warmup: { messages: number; elapsed_s: number } | null }) {
  return buildHttpApp({
    engine: new MarketEngine(engineConfig(), 'live'),
    telemetry: new Telemetry(() => 0, { defaultMetrics: false }),
    queue: new EventQueue(10),
    isNatsConnected: () => state.connected,
    natsError: () => state.error,
    warmup: () => state.warmup,
  });
}

describe('/health precedence (SPEC §7)', () => {
  it('NATS down wins over warming; warming is 503 with its progress; then ok', async () => {
    const state = { connected: false, error: 'Authorization Violation' as string | null, warmup: { messages: 10, elapsed_s: 0.5 } as { messages: number; elapsed_s: number } | null };
    const a = app(state);
    let r = await a.inject('/health');
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ status: 'degraded', reasons: ['nats'], nats_error: 'Authorization Violation', nats_connected: false });
    state.connected = true;
    state.error = null;
    r = await a.inject('/health');
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ status: 'warming', warmup: { messages: 10, elapsed_s: 0.5 }, nats_connected: true });
    state.warmup = null;
    r = await a.inject('/health');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ status: 'ok' });
    expect(r.json()).not.toHaveProperty('nats_error');
  });
});
