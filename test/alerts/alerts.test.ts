import { describe, expect, it } from 'vitest';
import type { Alert, FeatureSnapshot, Signal } from '../../src/domain/features.js';
import { MarketEngine } from '../../src/engine/market-engine.js';
import { Telemetry } from '../../src/obs/telemetry.js';
import type { AlertSpec } from '../../src/alerts/alert-rules.js';
import { gapAlert, latencyAlert, staleAlerts } from '../../src/alerts/alert-rules.js';
import { AlertThrottle } from '../../src/alerts/alert-throttle.js';
import { Pipeline } from '../../src/app/pipeline.js';
import { engineConfig } from '../helpers/events.js';

function rig(over: { maxSymbols?: number; latencyAlertMs?: number; queueCapacity?: number } = {}) {
  let now = 1_000_000;
  const alerts: Alert[] = [];
  const features: FeatureSnapshot[] = [];
  const signals: Signal[] = [];
  const manager = new AlertThrottle(10_000, (a) => alerts.push(a), () => now);
  const engine = new MarketEngine(engineConfig({ maxSymbols: over.maxSymbols ?? 100 }), 'live');
  const pipeline = new Pipeline(engine, new Telemetry(() => 0, { defaultMetrics: false }), manager, { features: (f) => features.push(f), signal: (s) => signals.push(s), alert: (a) => alerts.push(a) }, {
    queueCapacity: over.queueCapacity ?? 1000,
    dropOnBackpressure: true,
    featuresPubRateHz: 1000,
    latencyAlertMs: over.latencyAlertMs ?? 2000,
    maxSymbols: over.maxSymbols ?? 100,
  });
  const send = (subject: string, payload: object) => pipeline.offer(subject, Buffer.from(JSON.stringify(payload)), null);
  return { alerts, features, signals, pipeline, send, advance: (ms: number) => (now += ms), get now() { return now; } };
}

const a = (over: Partial<AlertSpec>): AlertSpec => ({ kind: 'gap', level: 'warn', message: 'x', symbol: null, provider: null, value: null, threshold: null, ...over });

describe('AlertThrottle', () => {
  it('raises the same (kind, symbol, provider) at most once per cooldown, on wall-clock time', () => {
    let now = 0;
    const got: Alert[] = [];
    const m = new AlertThrottle(10_000, (x) => got.push(x), () => now);
    expect(m.raise(a({ symbol: 'A', provider: 'p', value: 2, threshold: 0 }))).toBe(true);
    expect(m.raise(a({ symbol: 'A', provider: 'p' }))).toBe(false);
    expect(m.raise(a({ symbol: 'B', provider: 'p' }))).toBe(true);
    expect(m.raise(a({ kind: 'stale', provider: 'p' }))).toBe(true);
    expect(m.raise(null)).toBe(false);
    now = 10_000;
    expect(m.raise(a({ symbol: 'A', provider: 'p' }))).toBe(true);
    expect(got[0]).toEqual({ v: 1, ts: 0, kind: 'gap', level: 'warn', symbol: 'A', provider: 'p', message: 'x', value: 2, threshold: 0 });
    expect(got).toHaveLength(4);
    // an escalation passes a warn's cooldown once; then critical cools down too
    expect(m.raise(a({ level: 'critical', message: 'worse', symbol: 'A', provider: 'p' }))).toBe(true);
    expect(m.raise(a({ level: 'critical', message: 'worse', symbol: 'A', provider: 'p' }))).toBe(false);
    expect(m.raise(a({ symbol: 'A', provider: 'p' }))).toBe(false);
  });
});

describe('alert rules (pure)', () => {
  it('latency: none at or under the limit, warn above, critical above 5x; null p95 is no alert', () => {
    expect(latencyAlert('S', 100, 100)).toBeNull();
    expect(latencyAlert('S', null, 100)).toBeNull();
    expect(latencyAlert('S', 101, 100)).toMatchObject({ kind: 'latency', level: 'warn', symbol: 'S', value: 101, threshold: 100 });
    expect(latencyAlert('S', 501, 100)?.level).toBe('critical');
  });

  it('gap: only for missing ids; stale: per silent provider, none while backpressure drops', () => {
    expect(gapAlert('S', 'p', 0)).toBeNull();
    expect(gapAlert('S', 'p', 3)).toMatchObject({ kind: 'gap', value: 3, threshold: 0 });
    const seen = new Map([['a', 0], ['b', 9_000]]);
    expect(staleAlerts(12_000, seen, 10_000, -Infinity).map((x) => x.provider)).toEqual(['a']);
    expect(staleAlerts(12_000, seen, 10_000, 5_000)).toEqual([]);
  });
});

describe('pipeline alerts', () => {
  it('gap: a numeric trade id more than one above the highest accepted, with the missing count', async () => {
    const r = rig();
    const t = Date.now();
    r.send('md.events.trade.G', { type: 'trade', provider: 'binance', symbol: 'G', price: 1, size: 1, trade_id: 100, ts_exchange: t });
    r.send('md.events.trade.G', { type: 'trade', provider: 'binance', symbol: 'G', price: -1, size: 1, trade_id: 150, ts_exchange: t }); // rejected: does not move it
    r.send('md.events.trade.G', { type: 'trade', provider: 'binance', symbol: 'G', price: 1, size: 1, trade_id: 104, ts_exchange: t });
    await r.pipeline.idle();
    expect(r.alerts.map((a) => [a.kind, a.level, a.symbol, a.provider, a.value, a.threshold])).toEqual([['gap', 'warn', 'G', 'binance', 3, 0]]);
  });

  it('latency: warn above LATENCY_ALERT_MS, critical above 5x', async () => {
    const r = rig({ latencyAlertMs: 100 });
    r.send('md.events.quote.L', { type: 'quote', provider: 'p', symbol: 'L', bid: 1, ask: 2, ts_exchange: Date.now() - 300 });
    r.send('md.events.quote.M', { type: 'quote', provider: 'p', symbol: 'M', bid: 1, ask: 2, ts_exchange: Date.now() - 5000 });
    await r.pipeline.idle();
    const byKind = r.alerts.map((a) => [a.kind, a.level, a.symbol, a.threshold]);
    expect(byKind).toEqual([
      ['latency', 'warn', 'L', 100],
      ['latency', 'critical', 'M', 100],
    ]);
  });

  it('stale: a provider silent for STALE_AFTER_MS (heartbeats count), not while backpressure drops', async () => {
    const r = rig();
    r.send('md.events.heartbeat.__system__', { type: 'heartbeat', provider: 'okx', ts_exchange: Date.now() });
    await r.pipeline.idle();
    const seen = r.pipeline.providerLastSeen.get('okx')!;
    r.pipeline.checkStale(seen + 5_000, 10_000);
    expect(r.alerts).toHaveLength(0);
    r.pipeline.lastBackpressureDropMs = seen + 9_000;
    r.pipeline.checkStale(seen + 12_000, 10_000);
    expect(r.alerts).toHaveLength(0);
    r.pipeline.lastBackpressureDropMs = 0;
    r.pipeline.checkStale(seen + 12_000, 10_000);
    expect(r.alerts.map((a) => [a.kind, a.provider, a.value, a.threshold])).toEqual([['stale', 'okx', 12_000, 10_000]]);
  });

  it('symbol_limit: critical, with the symbol count and the limit', async () => {
    const r = rig({ maxSymbols: 1 });
    r.send('md.events.quote.A', { type: 'quote', provider: 'p', symbol: 'A', bid: 1, ask: 2 });
    r.send('md.events.quote.B', { type: 'quote', provider: 'p', symbol: 'B', bid: 1, ask: 2 });
    await r.pipeline.idle();
    expect(r.alerts.map((a) => [a.kind, a.level, a.symbol, a.value, a.threshold])).toEqual([['symbol_limit', 'critical', 'B', 1, 1]]);
  });

  it('backpressure: warn when non-trades are dropped at 90 % fill, critical when trades overflow the capacity', async () => {
    const r = rig({ queueCapacity: 10 });
    for (let i = 0; i < 9; i++) r.send('md.events.trade.Q', { type: 'trade', provider: 'p', symbol: 'Q', price: 1, size: 1 });
    r.send('md.events.quote.Q', { type: 'quote', provider: 'p', symbol: 'Q', bid: 1, ask: 2 }); // dropped at 90 %
    r.send('md.events.trade.Q', { type: 'trade', provider: 'p', symbol: 'Q', price: 1, size: 1 });
    r.send('md.events.trade.Q', { type: 'trade', provider: 'p', symbol: 'Q', price: 1, size: 1 }); // beyond capacity
    expect(r.pipeline.queue.size).toBe(11);
    await r.pipeline.idle();
    expect(r.alerts.map((a) => [a.kind, a.level])).toEqual([
      ['backpressure', 'warn'],
      ['backpressure', 'critical'],
    ]);
    expect(r.alerts[0]!.threshold).toBe(0.9);
  });
});
