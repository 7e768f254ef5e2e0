import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FeatureSnapshot } from '../../src/domain/features.js';
import { MarketEngine } from '../../src/engine/market-engine.js';
import { ThrottledFeaturePublisher } from '../../src/publish/feature-publisher.js';
import type { SymbolState } from '../../src/state/symbol-state.js';
import { engineConfig, trade } from '../helpers/events.js';

/** The throttle against a fake clock: time moves only when the test says so. */
describe('ThrottledFeaturePublisher (SPEC §5)', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    vi.useFakeTimers();
    now = 0;
  });
  afterEach(() => vi.useRealTimers());

  function setup(rateHz = 10) {
    const published: FeatureSnapshot[] = [];
    const p = new ThrottledFeaturePublisher(rateHz, (f) => published.push(f), clock);
    const engine = new MarketEngine(engineConfig(), 'live');
    const ingest = (ts: number, price: number, symbol = 'BTCUSDT'): SymbolState => {
      const o = engine.ingest(trade(ts, price, 1, { symbol }), ts);
      if (o.kind !== 'accepted' || o.state === null) throw new Error('rejected');
      return o.state;
    };
    const advance = (ms: number) => {
      now += ms;
      vi.advanceTimersByTime(ms);
    };
    return { p, published, ingest, advance };
  }

  it('publishes the first change at once, coalesces the rest of the interval, and sends the trailing edge when it ends', () => {
    const { p, published, ingest, advance } = setup(10);
    p.touch(ingest(1000, 100));
    expect(published.map((f) => f.ts)).toEqual([1000]);
    for (let i = 1; i <= 5; i++) {
      advance(10);
      p.touch(ingest(1000 + i, 100 + i));
    }
    expect(published).toHaveLength(1);
    advance(49); // 99 ms after the first publish
    expect(published).toHaveLength(1);
    advance(1);
    expect(published.map((f) => f.ts)).toEqual([1000, 1005]); // the newest state, not the first of the interval
    advance(500);
    expect(published).toHaveLength(2); // nothing changed: nothing more
  });

  it('throttles each symbol on its own', () => {
    const { p, published, ingest } = setup(1);
    p.touch(ingest(1000, 100, 'AAA'));
    p.touch(ingest(1000, 200, 'BBB'));
    p.touch(ingest(1001, 101, 'AAA'));
    expect(published.map((f) => f.symbol)).toEqual(['AAA', 'BBB']);
  });

  it('flush sends every pending trailing edge at once (shutdown); forget drops a symbol', () => {
    const { p, published, ingest, advance } = setup(1);
    p.touch(ingest(1000, 100, 'AAA'));
    p.touch(ingest(1000, 200, 'BBB'));
    advance(10);
    p.touch(ingest(1001, 101, 'AAA'));
    p.touch(ingest(1001, 201, 'BBB'));
    p.forget('BBB');
    p.flush();
    expect(published.map((f) => `${f.symbol}@${f.ts}`)).toEqual(['AAA@1000', 'BBB@1000', 'AAA@1001']);
    advance(5000);
    expect(published).toHaveLength(3);
  });
});
