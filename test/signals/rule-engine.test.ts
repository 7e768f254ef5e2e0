import { describe, expect, it } from 'vitest';
import { MarketEngine } from '../../src/engine/market-engine.js';
import { isRejection } from '../../src/domain/events.js';
import type { Signal } from '../../src/domain/features.js';
import { engineConfig, quote, trade } from '../helpers/events.js';

function run(e: MarketEngine, events: Parameters<MarketEngine['ingest']>[0][]): (Signal | null)[] {
  return events.map((ev) => {
    const o = e.ingest(ev, 0);
    if (isRejection(o)) throw new Error(o.detail);
    return o.signal;
  });
}

describe('RuleEngine', () => {
  it('emits long when return, volume and spread all pass, with the thresholds attached', () => {
    const e = new MarketEngine(engineConfig(), 'offline');
    const s = run(e, [quote(0, 99.99, 100.01), trade(0, 100, 0.5), trade(10_000, 100.5, 0.6), trade(10_001, 100.5, 0.5), trade(10_002, 100.6, 0.5)]);
    expect(s.slice(0, 3)).toEqual([null, null, null]); // at 10 000 the 10 s volume is 0.6: not above 1
    expect(s[3]).toMatchObject({ v: 1, symbol: 'BTCUSDT', ts: 10_001, direction: 'long', thresholds: { return: 0.003, volume: 1, spread_bps: 20 } });
    expect(s[3]!.return_10s).toBeCloseTo(0.005, 12);
    expect(s[3]!.trade_volume_10s).toBeCloseTo(1.1, 12); // the trade at 0 left the 10 s window
    expect(s[3]!.spread_bps).toBeCloseTo((0.02 / 100) * 10000, 9);
    expect(s[4]).toBeNull(); // cooldown
  });

  it('emits short on a fall beyond the threshold', () => {
    const e = new MarketEngine(engineConfig(), 'offline');
    const s = run(e, [quote(0, 99.99, 100.01), trade(0, 100, 2), trade(10_000, 99, 2)]);
    expect(s[2]?.direction).toBe('short');
  });

  it('fails a condition whose operand is null or not strictly beyond the threshold', () => {
    const e = new MarketEngine(engineConfig(), 'offline');
    // no quote yet: spread is null
    expect(run(e, [trade(0, 100, 2), trade(10_000, 101, 2)])[1]).toBeNull();
    // volume exactly at the threshold
    const e2 = new MarketEngine(engineConfig(), 'offline');
    expect(run(e2, [quote(0, 99.99, 100.01), trade(0, 100, 2), trade(10_000, 101, 1)])[2]).toBeNull();
    // spread too wide
    const e3 = new MarketEngine(engineConfig(), 'offline');
    expect(run(e3, [quote(0, 99, 101), trade(0, 100, 2), trade(10_000, 101, 2)])[2]).toBeNull();
  });

  it('applies the cooldown per symbol and direction in event time', () => {
    const e = new MarketEngine(engineConfig({ rules: { cooldownMs: 5_000 } }), 'offline');
    const s = run(e, [
      quote(0, 99.99, 100.01),
      trade(0, 100, 2),
      trade(10_000, 101, 2), // long at 10 000
      trade(12_000, 101.5, 2), // long suppressed: 2 000 ms later
      trade(14_000, 95, 2), // short is another direction: emitted
      quote(15_000, 99.99, 100.01, { symbol: 'ETHUSDT' }),
      trade(15_000, 100, 2, { symbol: 'ETHUSDT' }),
      trade(25_000, 101, 2, { symbol: 'ETHUSDT' }), // another symbol: emitted
      trade(14_500, 102, 2), // 4 500 ms after the last long: suppressed
      trade(15_000, 102.5, 2), // t = 15 000: exactly the cooldown later -> emitted
    ]);
    expect(s.map((x) => x && `${x.symbol}:${x.direction}:${x.ts}`)).toEqual([
      null, null, 'BTCUSDT:long:10000', null, 'BTCUSDT:short:14000', null, null, 'ETHUSDT:long:25000', null, 'BTCUSDT:long:15000',
    ]);
  });

  it('starts the cooldown over when the symbol is forgotten with its state (SPEC §3 eviction, cluster hand-over)', () => {
    for (const drop of ['forget', 'evict'] as const) {
      const e = new MarketEngine(engineConfig({ rules: { cooldownMs: 60_000 } }), 'offline');
      const first = run(e, [quote(0, 99.99, 100.01), trade(0, 100, 2), trade(10_000, 101, 2)]);
      expect(first[2]?.direction).toBe('long');
      // within the cooldown, the same state suppresses a second long
      expect(run(e, [trade(10_001, 101.5, 2)])[0]).toBeNull();
      if (drop === 'forget') expect(e.forget('BTCUSDT')).toBe(true);
      else expect(e.evictIdle(Number.POSITIVE_INFINITY)).toEqual(['BTCUSDT']);
      // the symbol comes back cold: its cooldown went with its state
      const again = run(e, [quote(20_000, 99.99, 100.01), trade(20_000, 100, 2), trade(30_000, 101, 2)]);
      expect(again[2]).toMatchObject({ direction: 'long', ts: 30_000 });
    }
  });
});
