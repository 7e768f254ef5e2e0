import { describe, expect, it } from 'vitest';
import type { Alert, FeatureSnapshot, Signal } from '../../src/domain/features.js';
import { MarketEngine } from '../../src/engine/market-engine.js';
import { DataQualityMetrics } from '../../src/obs/data-quality-metrics.js';
import { Telemetry } from '../../src/obs/telemetry.js';
import { AlertThrottle } from '../../src/alerts/alert-throttle.js';
import type { InlineBudget } from '../../src/app/pipeline.js';
import { DEFAULT_INLINE_BUDGET, MAX_TRACKED_PROVIDERS, Pipeline } from '../../src/app/pipeline.js';
import { engineConfig } from '../helpers/events.js';

function rig(over: { maxSymbols?: number; latencyAlertMs?: number; queueCapacity?: number; signalMaxAgeMs?: number; inline?: InlineBudget; onProviderBound?: (p: string) => void } = {}) {
  let now = 1_000_000;
  const alerts: Alert[] = [];
  const features: FeatureSnapshot[] = [];
  const signals: Signal[] = [];
  const manager = new AlertThrottle(10_000, (a) => alerts.push(a), () => now);
  const engine = new MarketEngine(engineConfig({ maxSymbols: over.maxSymbols ?? 100 }), 'live');
  const telemetry = new Telemetry(() => 0, { defaultMetrics: false });
  const quality = new DataQualityMetrics(telemetry.registry);
  const pipeline = new Pipeline(engine, telemetry, manager, { features: (f) => features.push(f), signal: (s) => signals.push(s), alert: (a) => alerts.push(a) }, {
    queueCapacity: over.queueCapacity ?? 1000,
    dropOnBackpressure: true,
    featuresPubRateHz: 1000,
    latencyAlertMs: over.latencyAlertMs ?? 2000,
    maxSymbols: over.maxSymbols ?? 100,
    ...(over.signalMaxAgeMs !== undefined ? { signalMaxAgeMs: over.signalMaxAgeMs } : {}),
    ...(over.inline !== undefined ? { inline: over.inline } : {}),
  }, quality, over.onProviderBound);
  const send = (subject: string, payload: object) => pipeline.offer(subject, Buffer.from(JSON.stringify(payload)), null);
  return { alerts, features, signals, pipeline, quality, telemetry, engine, send, advance: (ms: number) => (now += ms), get now() { return now; } };
}

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
    r.pipeline.admissions.lastBackpressureDropMs = seen + 9_000;
    r.pipeline.checkStale(seen + 12_000, 10_000);
    expect(r.alerts).toHaveLength(0);
    r.pipeline.admissions.lastBackpressureDropMs = 0;
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

describe('pipeline signals (SPEC §11)', () => {
  it('does not publish a signal evaluated on history older than SIGNAL_MAX_AGE_MS, and counts it', async () => {
    const r = rig({ signalMaxAgeMs: 30_000 });
    const send = (t: number) => {
      r.send('md.events.quote.OLD', { type: 'quote', provider: 'p', symbol: 'OLD', bid: 99.99, ask: 100.01, ts_exchange: t });
      r.send('md.events.trade.OLD', { type: 'trade', provider: 'p', symbol: 'OLD', price: 100, size: 2, trade_id: '1', ts_exchange: t });
      r.send('md.events.trade.OLD', { type: 'trade', provider: 'p', symbol: 'OLD', price: 101, size: 2, trade_id: '2', ts_exchange: t + 10_001 });
    };
    send(Date.now() - 60_000); // a replayed backlog: long signal at t = now - 50 s
    await r.pipeline.idle();
    expect(r.signals).toHaveLength(0);
    expect(r.quality.signalsSuppressed.get('stale')).toBe(1);
    const fresh = rig({ signalMaxAgeMs: 30_000 });
    const t = Date.now() - 10_001;
    fresh.send('md.events.quote.NEW', { type: 'quote', provider: 'p', symbol: 'NEW', bid: 99.99, ask: 100.01, ts_exchange: t });
    fresh.send('md.events.trade.NEW', { type: 'trade', provider: 'p', symbol: 'NEW', price: 100, size: 2, trade_id: '1', ts_exchange: t });
    fresh.send('md.events.trade.NEW', { type: 'trade', provider: 'p', symbol: 'NEW', price: 101, size: 2, trade_id: '2', ts_exchange: t + 10_001 });
    await fresh.pipeline.idle();
    expect(fresh.signals.map((s) => [s.symbol, s.direction])).toEqual([['NEW', 'long']]);
    expect(fresh.quality.signalsSuppressed.get('stale')).toBe(0);
  });
});

describe('inline processing', () => {
  const quote = (symbol: string, bid: number) => ({ type: 'quote', provider: 'p', symbol, bid, ask: bid + 1, ts_exchange: Date.now() });

  it('processes a message inside the callback that delivered it when nothing is queued', () => {
    const r = rig({ inline: DEFAULT_INLINE_BUDGET });
    r.send('md.events.quote.IN', quote('IN', 10));
    // no await: the state is there when offer returns
    expect(r.pipeline.processedInline).toBe(1);
    expect(r.pipeline.queue.size).toBe(0);
    expect(r.features.map((f) => [f.symbol, f.mid])).toEqual([['IN', 10.5]]);
  });

  it('queues once the inline budget of the period is spent, in arrival order, and the queue rules apply again', async () => {
    const r = rig({ inline: { periodMs: 1e9, budgetMs: 1e-9 }, queueCapacity: 3 });
    for (let i = 0; i < 5; i++) r.send('md.events.quote.Q', quote('Q', 10 + i));
    expect(r.pipeline.processedInline).toBe(1); // the first spent the budget
    expect(r.pipeline.queue.size).toBe(3); // then at 90 % of 3 the last quote was dropped
    expect(r.telemetry.droppedByReasonObject().backpressure).toBe(1);
    await r.pipeline.idle();
    expect(r.telemetry.eventsProcessedTotal).toBe(4);
    expect(r.engine.symbols.get('Q')!.lastQuote!.event.bid).toBe(13); // the queue drained after the inline one
  });

  it('never processes inline without a budget (the default of a bare pipeline)', async () => {
    const r = rig();
    r.send('md.events.quote.N', quote('N', 10));
    expect(r.pipeline.queue.size).toBe(1);
    await r.pipeline.idle();
    expect(r.pipeline.processedInline).toBe(0);
    expect(r.features).toHaveLength(1);
  });
});

describe('coverage after a core-mode reconnect (SPEC §11)', () => {
  const trade = (symbol: string, ts: number) => ({ type: 'trade', provider: 'p', symbol, price: 1, size: 1, ts_exchange: ts });

  it('moves to the first event queued after the gap, not to one queued before it, without waiting for an empty queue', async () => {
    const r = rig();
    const t = Date.now() - 30_000;
    r.send('md.events.trade.A', trade('A', t));
    await r.pipeline.idle();
    expect(r.engine.coverage.start).toBe(t);
    // queued before the gap: processed after coverageLost() is called, yet they cannot vouch for the gap
    r.send('md.events.trade.A', trade('A', t + 1000));
    r.send('md.events.trade.A', trade('A', t + 2000));
    r.pipeline.coverageLost();
    r.send('md.events.trade.A', trade('A', t + 5000)); // the first after the gap
    r.send('md.events.trade.A', trade('A', t + 6000));
    r.pipeline.coverageLost(); // a second gap, with nothing between it and the next event
    r.send('md.events.trade.A', trade('A', t + 9000));
    expect(r.pipeline.queue.size).toBe(5);
    await r.pipeline.idle();
    expect(r.telemetry.eventsProcessedTotal).toBe(6);
    expect(r.engine.coverage.start).toBe(t + 9000);
  });

  it('takes effect at the next event at once when nothing is queued', async () => {
    const r = rig();
    const t = Date.now() - 30_000;
    r.send('md.events.trade.B', trade('B', t));
    await r.pipeline.idle();
    r.pipeline.coverageLost();
    r.send('md.events.trade.B', trade('B', t + 3000));
    await r.pipeline.idle();
    expect(r.engine.coverage.start).toBe(t + 3000);
  });

  it('in order between the gaps: the first event after each one moves it', async () => {
    const r = rig();
    const t = Date.now() - 30_000;
    const starts: number[] = [];
    const ingest = r.engine.ingest.bind(r.engine);
    r.engine.ingest = (...args: Parameters<typeof r.engine.ingest>) => {
      const out = ingest(...args);
      starts.push(r.engine.coverage.start - t);
      return out;
    };
    r.send('md.events.trade.C', trade('C', t));
    r.send('md.events.trade.C', trade('C', t + 1000));
    r.pipeline.coverageLost();
    r.send('md.events.trade.C', trade('C', t + 2000));
    r.send('md.events.trade.C', trade('C', t + 3000));
    r.pipeline.coverageLost();
    r.send('md.events.trade.C', trade('C', t + 4000));
    await r.pipeline.idle();
    expect(starts).toEqual([0, 0, 2000, 2000, 4000]);
  });
});

describe('providers tracked for stale alerts (DECISIONS 71)', () => {
  it('tracks at most MAX_TRACKED_PROVIDERS, processes the others all the same, and reports the bound once', async () => {
    const bound: string[] = [];
    const r = rig({ queueCapacity: 2000, onProviderBound: (p) => bound.push(p) });
    const t = Date.now();
    for (let i = 0; i < 1100; i++) r.send('md.events.heartbeat.__system__', { type: 'heartbeat', provider: `req-${i}`, ts_exchange: t });
    r.send('md.events.heartbeat.__system__', { type: 'heartbeat', provider: 'req-0', ts_exchange: t }); // a tracked one still moves
    await r.pipeline.idle();
    expect(r.pipeline.providerLastSeen.size).toBe(1024);
    expect(MAX_TRACKED_PROVIDERS).toBe(1024);
    expect(r.pipeline.providerLastSeen.has('req-1023')).toBe(true);
    expect(r.pipeline.providerLastSeen.has('req-1024')).toBe(false);
    expect(r.pipeline.untrackedProviderEvents).toBe(1100 - 1024);
    expect(bound).toEqual(['req-1024']);
    expect(r.telemetry.eventsProcessedTotal).toBe(1101);
    expect(r.telemetry.eventsDroppedTotal).toBe(0);
  });
});
