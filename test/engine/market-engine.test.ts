import { describe, expect, it } from 'vitest';
import type { Accepted } from '../../src/engine/market-engine.js';
import { MarketEngine } from '../../src/engine/market-engine.js';
import { isRejection } from '../../src/domain/events.js';
import { computeFeatures } from '../../src/features/feature-engine.js';
import { book, engineConfig, heartbeat, quote, trade } from '../helpers/events.js';

function accepted(o: ReturnType<MarketEngine['ingest']>): Accepted {
  if (isRejection(o)) throw new Error(`rejected: ${o.reason} ${o.detail}`);
  return o;
}

describe('MarketEngine: time and state', () => {
  it('advances the symbol clock to the largest event time and evaluates features there', () => {
    const e = new MarketEngine(engineConfig(), 'offline');
    accepted(e.ingest(trade(10_000, 100), 0));
    const o = accepted(e.ingest(trade(5_000, 99), 0));
    expect(o.state!.clock).toBe(10_000);
    expect(computeFeatures(o.state!).ts).toBe(10_000);
  });

  it('rejects events at or before t - W as late, with no state change', () => {
    const e = new MarketEngine(engineConfig({ windowMs: 30_000 }), 'offline');
    accepted(e.ingest(trade(100_000, 100), 0));
    const before = e.symbols.get('BTCUSDT')!.version;
    expect(e.ingest(trade(70_000, 1), 0)).toMatchObject({ kind: 'rejection', reason: 'late' });
    expect(e.ingest(quote(60_000, 1, 2), 0)).toMatchObject({ reason: 'late' });
    expect(e.symbols.get('BTCUSDT')!.version).toBe(before);
    accepted(e.ingest(trade(70_001, 100), 0)); // just inside (t - W, t]
  });

  it('rejects a redelivered trade id of the same provider inside the window as duplicate', () => {
    const e = new MarketEngine(engineConfig(), 'offline');
    accepted(e.ingest(trade(1_000, 100, 1, { tradeId: '7' }), 0));
    expect(e.ingest(trade(1_000, 100, 1, { tradeId: '7' }), 0)).toMatchObject({ reason: 'duplicate' });
    accepted(e.ingest(trade(1_000, 100, 1, { tradeId: '7', provider: 'other' }), 0));
    accepted(e.ingest(trade(1_000, 100, 1), 0)); // no id: never a duplicate
    accepted(e.ingest(trade(1_000, 100, 1), 0));
    // once evicted, the id is no longer known
    accepted(e.ingest(trade(70_000, 100, 1, { tradeId: '8' }), 0));
    accepted(e.ingest(trade(61_000, 100, 1, { tradeId: '7' }), 0));
  });

  it('takes best bid/ask from the most recently arrived quote or book, whatever its time', () => {
    const e = new MarketEngine(engineConfig(), 'offline');
    accepted(e.ingest(quote(5_000, 100, 101), 0));
    const o = accepted(e.ingest(book(4_000, 99, 103), 0));
    const f = computeFeatures(o.state!);
    expect([f.mid, f.spread_abs]).toEqual([101, 4]);
    expect(f.spread_bps).toBeCloseTo((4 / 101) * 10000, 12);
  });

  it('offline: rejects a symbol event without any timestamp; live: uses the local receive time', () => {
    const off = new MarketEngine(engineConfig(), 'offline');
    expect(off.ingest(trade(0, 1, 1, { tsExchange: null }), 0)).toMatchObject({ reason: 'invalid' });
    accepted(off.ingest(heartbeat(null), 0));
    const live = new MarketEngine(engineConfig(), 'live');
    const o = accepted(live.ingest(trade(0, 1, 1, { tsExchange: null }), 1_760_000_000_000));
    expect(o.state!.clock).toBe(1_760_000_000_000);
  });

  it('uses ts_recv as event time when ts_exchange is absent, and adds no latency sample', () => {
    const e = new MarketEngine(engineConfig(), 'offline');
    const o = accepted(e.ingest(quote(0, 1, 2, { tsExchange: null, tsRecv: 5_000 }), 0));
    expect(o.state!.clock).toBe(5_000);
    expect(computeFeatures(o.state!).latency_ms_p50).toBeNull();
  });

  it('rejects ts_exchange more than MAX_FUTURE_SKEW_MS after the receive time as invalid', () => {
    const e = new MarketEngine(engineConfig({ maxFutureSkewMs: 60_000 }), 'offline');
    expect(e.ingest(trade(200_000, 1, 1, { tsRecv: 100_000 }), 0)).toMatchObject({ reason: 'invalid' });
    accepted(e.ingest(trade(160_000, 1, 1, { tsRecv: 100_000 }), 0)); // exactly the limit
    expect(e.ingest(trade(200_000, 1, 1, { tsRecv: 1, envelopeRecvAt: 100_000 }), 0)).toMatchObject({ reason: 'invalid' });
    const live = new MarketEngine(engineConfig(), 'live');
    expect(live.ingest(heartbeat(1_000_000), 900_000)).toMatchObject({ reason: 'invalid', type: 'heartbeat' });
  });

  it('bounds the number of symbols', () => {
    const e = new MarketEngine(engineConfig({ maxSymbols: 2 }), 'offline');
    accepted(e.ingest(trade(1, 1, 1, { symbol: 'A' }), 0));
    accepted(e.ingest(trade(1, 1, 1, { symbol: 'B' }), 0));
    expect(e.ingest(trade(1, 1, 1, { symbol: 'C' }), 0)).toMatchObject({ reason: 'symbol_limit' });
    accepted(e.ingest(trade(2, 1, 1, { symbol: 'A' }), 0));
    expect(e.symbols.size).toBe(2);
  });

  it('reports gaps in numeric trade ids per provider, exact above 2^53', () => {
    const e = new MarketEngine(engineConfig(), 'live');
    expect(accepted(e.ingest(trade(1, 1, 1, { tradeId: '100' }), 1)).gap).toBe(0);
    expect(accepted(e.ingest(trade(2, 1, 1, { tradeId: '101' }), 2)).gap).toBe(0);
    expect(accepted(e.ingest(trade(3, 1, 1, { tradeId: '105' }), 3)).gap).toBe(3);
    expect(accepted(e.ingest(trade(4, 1, 1, { tradeId: '104' }), 4)).gap).toBe(0);
    expect(accepted(e.ingest(trade(5, 1, 1, { tradeId: '9007199254740993', provider: 'q' }), 5)).gap).toBe(0);
    expect(accepted(e.ingest(trade(6, 1, 1, { tradeId: '9007199254740996', provider: 'q' }), 6)).gap).toBe(2);
  });
});

describe('features', () => {
  it('are null or zero before any data (no wrong number before warm-up)', () => {
    const e = new MarketEngine(engineConfig(), 'offline');
    const f = computeFeatures(accepted(e.ingest(quote(1_000, 10, 10.5), 0)).state!);
    expect(f).toMatchObject({ trade_vwap_10s: null, trade_vwap_60s: null, trade_count_10s: 0, trade_volume_10s: 0, return_10s: null, realized_vol_60s: null, latency_ms_p50: null, latency_ms_p95: null });
    expect(Object.keys(f)).toEqual(['v', 'symbol', 'ts', 'warm', 'mid', 'spread_abs', 'spread_bps', 'trade_vwap_10s', 'trade_vwap_60s', 'trade_count_10s', 'trade_volume_10s', 'return_10s', 'realized_vol_60s', 'latency_ms_p50', 'latency_ms_p95']);
  });

  it('computes return_10s against the last trade at or before t - 10 s', () => {
    const e = new MarketEngine(engineConfig(), 'offline');
    e.ingest(trade(0, 100), 0);
    e.ingest(trade(1_000, 200), 0);
    e.ingest(trade(5_000, 150), 0);
    let f = computeFeatures(accepted(e.ingest(trade(11_000, 210), 0)).state!);
    expect(f.return_10s).toBeCloseTo(210 / 200 - 1, 15); // ref: the trade at 1 000 (= t - 10 s)
    f = computeFeatures(accepted(e.ingest(trade(9_000, 1), 0)).state!); // out of order: not the last
    expect(f.return_10s).toBeCloseTo(210 / 200 - 1, 15);
  });

  it('computes the sample standard deviation of consecutive log returns', () => {
    const e = new MarketEngine(engineConfig(), 'offline');
    const prices = [100, 101, 99, 102];
    let o;
    for (let i = 0; i < prices.length; i++) o = accepted(e.ingest(trade(i * 1000, prices[i]!), 0));
    const r = [Math.log(101 / 100), Math.log(99 / 101), Math.log(102 / 99)];
    const m = (r[0]! + r[1]! + r[2]!) / 3;
    const sd = Math.sqrt(r.reduce((a, x) => a + (x - m) ** 2, 0) / 2);
    expect(computeFeatures(o!.state!).realized_vol_60s).toBeCloseTo(sd, 14);
  });

  it('needs two returns for volatility', () => {
    const e = new MarketEngine(engineConfig(), 'offline');
    e.ingest(trade(0, 100), 0);
    expect(computeFeatures(accepted(e.ingest(trade(1, 101), 0)).state!).realized_vol_60s).toBeNull();
  });

  it('takes nearest-rank latency percentiles over the window, from ts_recv offline and envelope received_at first', () => {
    const e = new MarketEngine(engineConfig({ windowMs: 10_000 }), 'offline');
    e.ingest(quote(1_000, 1, 2, { tsRecv: 1_010 }), 0); // 10
    e.ingest(quote(2_000, 1, 2, { tsRecv: 2_030 }), 0); // 30
    e.ingest(quote(3_000, 1, 2, { tsRecv: 9, envelopeRecvAt: 3_020 }), 0); // 20
    let f = computeFeatures(accepted(e.ingest(quote(4_000, 1, 2, { tsRecv: 4_040 }), 0)).state!); // 40
    expect([f.latency_ms_p50, f.latency_ms_p95]).toEqual([20, 40]);
    f = computeFeatures(accepted(e.ingest(quote(12_500, 1, 2), 0)).state!); // evicts 1 000 and 2 000; no sample
    expect([f.latency_ms_p50, f.latency_ms_p95]).toEqual([20, 40]);
  });
});
