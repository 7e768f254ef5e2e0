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

  it('takes best bid/ask from the newer of the latest quote and book by event time, ties to the later arrival', () => {
    const e = new MarketEngine(engineConfig(), 'offline');
    accepted(e.ingest(quote(5_000, 100, 101), 0));
    // an older book is kept as the latest book, but does not replace the newer quote's best bid/ask
    let f = computeFeatures(accepted(e.ingest(book(4_000, 99, 103), 0)).state!);
    expect([f.mid, f.spread_abs]).toEqual([100.5, 1]);
    expect(e.symbols.get('BTCUSDT')!.lastBook!.event.bids[0]![0]).toBe(99);
    // same event time: the later arrival wins
    f = computeFeatures(accepted(e.ingest(book(5_000, 99, 103), 0)).state!);
    expect([f.mid, f.spread_abs]).toEqual([101, 4]);
    expect(f.spread_bps).toBeCloseTo((4 / 101) * 10000, 12);
  });

  it('never lets a redelivered or delayed older quote replace the newest best bid/ask, but keeps its latency sample', () => {
    const e = new MarketEngine(engineConfig(), 'live');
    accepted(e.ingest(quote(10_000, 100, 101), 10_010));
    const s = accepted(e.ingest(quote(9_000, 90, 91), 10_020)).state!;
    expect([s.bestBid, s.bestAsk]).toEqual([100, 101]);
    expect(s.lastQuote!.event.bid).toBe(100);
    expect(s.latency.size).toBe(2);
    accepted(e.ingest(quote(10_001, 102, 103), 10_030));
    expect([s.bestBid, s.bestAsk]).toEqual([102, 103]);
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

describe('MarketEngine: input guards (SPEC §2)', () => {
  it('rejects an event whose event time is far ahead of its receive time, whichever field the time came from', () => {
    const live = new MarketEngine(engineConfig(), 'live');
    const now = 1_760_000_000_000;
    const year3000 = 32_503_680_000_000;
    // only ts_recv, in the year 3000: the clock must not jump there
    expect(live.ingest(trade(0, 100, 1, { tsExchange: null, tsRecv: year3000 }), now)).toMatchObject({ reason: 'invalid' });
    expect(live.ingest(trade(year3000, 100), now)).toMatchObject({ reason: 'invalid' });
    const s = accepted(live.ingest(trade(now - 5, 100), now)).state!;
    expect(s.clock).toBe(now - 5);
    accepted(live.ingest(trade(now + 60_000, 100), now)); // exactly at the bound is accepted
  });

  it('offline: compares with received_at, else ts_recv, else the largest receive time accepted before', () => {
    const off = new MarketEngine(engineConfig(), 'offline');
    const t0 = 1_760_000_000_000;
    const far = t0 + 3_600_000;
    // the first event has nothing to compare with: accepted
    accepted(off.ingest(trade(t0, 100, 1, { tsExchange: null, tsRecv: t0 }), 0));
    // only a far ts_recv: compared with the largest receive time so far (t0)
    expect(off.ingest(trade(0, 100, 1, { tsExchange: null, tsRecv: far }), 0)).toMatchObject({ reason: 'invalid' });
    // only a far ts_exchange, no receive time: likewise
    expect(off.ingest(trade(far, 100), 0)).toMatchObject({ reason: 'invalid' });
    // an envelope's received_at wins
    expect(off.ingest(trade(0, 100, 1, { tsExchange: null, tsRecv: far, envelopeRecvAt: t0 + 10 }), 0)).toMatchObject({ reason: 'invalid' });
    accepted(off.ingest(trade(far, 100, 1, { envelopeRecvAt: far }), 0));
  });

  it('offline: an event with no timestamp but an envelope received_at takes it as event time', () => {
    const off = new MarketEngine(engineConfig(), 'offline');
    const o = accepted(off.ingest(trade(0, 100, 1, { tsExchange: null, envelopeRecvAt: 1_760_000_000_123 }), 0));
    expect(o.state!.clock).toBe(1_760_000_000_123);
  });
});

describe('MarketEngine: warm (SPEC §11)', () => {
  it('offline: warm once t - W reaches the first accepted event time (heartbeats included)', () => {
    const e = new MarketEngine(engineConfig({ windowMs: 30_000 }), 'offline');
    accepted(e.ingest(heartbeat(1_000), 0));
    expect(computeFeatures(accepted(e.ingest(trade(20_000, 100), 0)).state!).warm).toBe(false);
    expect(computeFeatures(accepted(e.ingest(trade(30_999, 100), 0)).state!).warm).toBe(false);
    expect(computeFeatures(accepted(e.ingest(trade(31_000, 100), 0)).state!).warm).toBe(true);
    // a symbol first seen later is warm as soon as its clock is W past coverage_start
    expect(computeFeatures(accepted(e.ingest(trade(31_000, 5, 1, { symbol: 'ETHUSDT' }), 0)).state!).warm).toBe(true);
  });

  it('live: a lost stretch (disconnect) moves coverage to the next event; an overflow drop to its time', () => {
    const e = new MarketEngine(engineConfig({ windowMs: 10_000 }), 'live');
    accepted(e.ingest(trade(1_000, 100), 1_000));
    expect(computeFeatures(accepted(e.ingest(trade(11_000, 100), 11_000)).state!).warm).toBe(true);
    e.coverageLost();
    const s = accepted(e.ingest(trade(15_000, 100), 15_000)).state!;
    expect(s.warm).toBe(false);
    accepted(e.ingest(trade(25_000, 100), 25_000));
    expect(s.warm).toBe(true);
    e.coverageLostUntil(26_000);
    expect(s.warm).toBe(false);
    accepted(e.ingest(trade(36_000, 100), 36_000));
    expect(s.warm).toBe(true);
  });

  it('signals carry the warm of the features they were evaluated on', () => {
    const e = new MarketEngine(engineConfig({ windowMs: 15_000, rules: { volumeThreshold: 0.5 } }), 'offline');
    accepted(e.ingest(quote(0, 100, 100.01), 0));
    accepted(e.ingest(trade(1, 100), 0));
    let o = accepted(e.ingest(trade(10_001, 101), 0));
    expect(o.signal).toMatchObject({ direction: 'long', warm: false });
    accepted(e.ingest(trade(15_000, 100), 0));
    o = accepted(e.ingest(trade(25_000, 99), 0));
    expect(o.signal).toMatchObject({ direction: 'short', warm: true });
    expect(computeFeatures(o.state!).warm).toBe(true);
  });
});

describe('MarketEngine: symbol limit and idle eviction (SPEC §3)', () => {
  it('frees the slot of an idle symbol; it comes back cold', () => {
    const e = new MarketEngine(engineConfig({ windowMs: 10_000, maxSymbols: 1 }), 'live');
    accepted(e.ingest(trade(1_000, 100), 1_000));
    expect(e.ingest(trade(2_000, 5, 1, { symbol: 'ETHUSDT' }), 2_000)).toMatchObject({ reason: 'symbol_limit' });
    expect(e.evictIdle(500)).toEqual([]);
    expect(e.evictIdle(1_500)).toEqual(['BTCUSDT']);
    expect(e.symbols.size).toBe(0);
    // ETHUSDT was refused at 2 000: its coverage starts there
    const eth = accepted(e.ingest(trade(3_000, 5, 1, { symbol: 'ETHUSDT' }), 3_000)).state!;
    accepted(e.ingest(trade(11_500, 5, 1, { symbol: 'ETHUSDT' }), 11_500));
    expect(eth.warm).toBe(false);
    accepted(e.ingest(trade(12_000, 5, 1, { symbol: 'ETHUSDT' }), 12_000));
    expect(eth.warm).toBe(true);
    // BTCUSDT comes back after eviction: cold until its own first event is W behind
    expect(e.evictIdle(12_500)).toEqual(['ETHUSDT']);
    const btc = accepted(e.ingest(trade(20_000, 100), 20_000)).state!;
    expect(btc.trades.size).toBe(1);
    expect(btc.warm).toBe(false);
    accepted(e.ingest(trade(30_000, 100), 30_000));
    expect(btc.warm).toBe(true);
  });
});

describe('MarketEngine: cluster mode hooks (SPEC §12)', () => {
  it('gives each new symbol the coverage of its partition, and forget() drops a symbol at once', () => {
    const e = new MarketEngine(engineConfig({ windowMs: 10_000 }), 'live');
    e.setCoverageStart(Number.NEGATIVE_INFINITY);
    const floors = new Map([['AAA', 0], ['BBB', 50_000]]);
    e.coverageFloorOf = (symbol) => floors.get(symbol) ?? Number.NaN;
    accepted(e.ingest(trade(20_000, 100, 1, { symbol: 'AAA', tradeId: '1' }), 20_000));
    accepted(e.ingest(trade(20_000, 100, 1, { symbol: 'BBB', tradeId: '1' }), 20_000));
    accepted(e.ingest(trade(20_000, 100, 1, { symbol: 'CCC', tradeId: '1' }), 20_000));
    expect([e.symbols.get('AAA')!.warm, e.symbols.get('BBB')!.warm, e.symbols.get('CCC')!.warm]).toEqual([true, false, false]);
    accepted(e.ingest(trade(60_000, 100, 1, { symbol: 'BBB', tradeId: '2' }), 60_000));
    expect(e.symbols.get('BBB')!.warm).toBe(true); // 60 s − W ≥ its partition's 50 s

    expect(e.forget('AAA')).toBe(true);
    expect(e.forget('AAA')).toBe(false);
    expect(e.symbols.has('AAA')).toBe(false);
    // back later (its partition taken over again): fresh state, the partition's new coverage
    floors.set('AAA', 70_000);
    const back = accepted(e.ingest(trade(75_000, 100, 1, { symbol: 'AAA', tradeId: '1' }), 75_000));
    expect(computeFeatures(back.state!).trade_count_10s).toBe(1);
    expect(back.state!.warm).toBe(false);
  });
});
