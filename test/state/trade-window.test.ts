import { describe, expect, it } from 'vitest';
import { TradeWindow } from '../../src/state/trade-window.js';
import type { TradeRecord } from '../../src/state/trade-records.js';
import { NO_INTEGER_KEY } from '../../src/state/trade-records.js';

function rec(ts: number, price: number, size: number, key: string | null = null): TradeRecord {
  return { ts, price, size, side: null, provider: NO_INTEGER_KEY, id: 0, key };
}

function feed(w: TradeWindow, trades: [ts: number, price: number, size: number][]): number {
  let t = Number.NEGATIVE_INFINITY;
  for (const [ts, price, size] of trades) {
    if (ts > t) {
      t = ts;
      w.advance(t);
    }
    w.add(rec(ts, price, size), t);
  }
  return t;
}

describe('TradeWindow', () => {
  it('keeps the 10 s and 60 s aggregates over (t - h, t]', () => {
    const w = new TradeWindow(60_000);
    feed(w, [[0, 100, 1], [5_000, 110, 3], [10_000, 120, 1]]);
    // t = 10 000: (0, 10 000] excludes the trade at 0 from the 10 s window
    expect(w.last10s.count).toBe(2);
    expect(w.last10s.totalVolume).toBe(4);
    expect(w.last10s.vwap).toBeCloseTo((110 * 3 + 120) / 4, 12);
    expect(w.last60s.count).toBe(3);
    expect(w.last60s.vwap).toBeCloseTo((100 + 330 + 120) / 5, 12);
    expect(w.referencePrice()).toBe(100);
    expect(w.lastPrice()).toBe(120);
  });

  it('evicts trades with ts <= t - W and forgets their dedup keys', () => {
    const w = new TradeWindow(30_000);
    w.advance(1_000);
    w.add(rec(1_000, 100, 1, 'p\u00001'), 1_000);
    w.advance(31_000);
    expect(w.size).toBe(0);
    expect(w.contains(-1, 0, 'p\u00001')).toBe(false);
    expect(w.last60s.vwap).toBeNull();
    expect(w.last10s.totalVolume).toBe(0);
  });

  it('inserts out-of-order trades in (ts, arrival) order, fixing the returns around them', () => {
    const a = new TradeWindow(60_000);
    feed(a, [[1_000, 100, 1], [3_000, 102, 1], [2_000, 101, 1]]);
    const b = new TradeWindow(60_000);
    feed(b, [[1_000, 100, 1], [2_000, 101, 1], [3_000, 102, 1]]);
    expect(a.last60s.returns).toBe(2);
    expect(a.stdevReturns(a.last60s)).toBeCloseTo(b.stdevReturns(b.last60s)!, 15);
    expect(a.lastPrice()).toBe(102);
  });

  it('puts a late-arriving trade with an equal time after the earlier arrival', () => {
    const w = new TradeWindow(60_000);
    feed(w, [[1_000, 100, 1], [1_000, 105, 1]]);
    expect(w.lastPrice()).toBe(105);
  });

  it('places an out-of-order trade older than 10 s before the short suffix', () => {
    const w = new TradeWindow(60_000);
    feed(w, [[20_000, 100, 1], [25_000, 101, 2], [5_000, 99, 4]]);
    expect(w.last10s.count).toBe(2); // (15 000, 25 000]
    expect(w.last60s.count).toBe(3);
    expect(w.referencePrice()).toBe(99);
    expect(w.last10s.first).toBe(w.ring.start + 1);
  });

  it('limits the 10 s and 60 s horizons to the window when W is shorter', () => {
    const w = new TradeWindow(5_000);
    feed(w, [[0, 100, 1], [4_000, 101, 1], [8_000, 102, 1]]);
    expect(w.last10s.count).toBe(2);
    expect(w.referencePrice()).toBeNull(); // nothing at ts <= t - 10 s can be in a 5 s window
  });

  it('has no floating-point drift after a million trades pass through', () => {
    const w = new TradeWindow(60_000);
    let t = 0;
    let price = 50_000;
    for (let i = 0; i < 1_000_000; i++) {
      t += 7;
      price *= 1 + Math.sin(i) * 1e-4;
      w.advance(t);
      w.add(rec(t, price, 0.001 + (i % 13) * 0.37), t);
    }
    // recompute the long window from its records
    const r = w.ring;
    let vol = 0;
    let notional = 0;
    const rets: number[] = [];
    for (let p = w.last60s.first; p < r.end; p++) {
      vol += r.sizeAt(p);
      notional += r.priceAt(p) * r.sizeAt(p);
      if (p > w.last60s.first) rets.push(Math.log(r.priceAt(p) / r.priceAt(p - 1)));
    }
    const mean = rets.reduce((a, b) => a + b, 0) / rets.length;
    const sd = Math.sqrt(rets.reduce((a, b) => a + (b - mean) ** 2, 0) / (rets.length - 1));
    expect(Math.abs(w.last60s.totalVolume - vol) / vol).toBeLessThan(1e-12);
    expect(Math.abs(w.last60s.vwap! - notional / vol) / (notional / vol)).toBeLessThan(1e-12);
    expect(Math.abs(w.stdevReturns(w.last60s)! - sd) / sd).toBeLessThan(1e-9);
  });

  it('keeps the side of each trade, through growth and out-of-order inserts', () => {
    const w = new TradeWindow(60_000);
    const sides = ['buy', 'sell', null] as const;
    for (let i = 0; i < 40; i++) {
      const ts = 1_000 + i * 10 - (i % 5 === 4 ? 25 : 0); // every fifth arrives late
      w.advance(1_000 + i * 10);
      w.add({ ...rec(ts, 100 + i, 1), side: sides[i % 3]! }, 1_000 + i * 10);
    }
    const r = w.ring;
    const codes = new Map<number, number>();
    for (let p = r.start; p < r.end; p++) codes.set(r.priceAt(p) - 100, r.sideAt(p));
    for (let i = 0; i < 40; i++) expect(codes.get(i), `trade ${i}`).toBe([1, 2, 0][i % 3]);
  });
});
