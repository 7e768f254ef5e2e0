import { describe, expect, it } from 'vitest';
import { MarketEngine } from '../../src/engine/market-engine.js';
import { SymbolList } from '../../src/state/symbol-list.js';
import { engineConfig, trade } from '../helpers/events.js';

/** The sorted list /health shows: current the moment a symbol is forgotten, even when another arrived meanwhile. */
describe('SymbolList', () => {
  it('follows the engine’s changes at once: one symbol forgotten while another came leaves the count as it was', () => {
    const engine = new MarketEngine(engineConfig(), 'live');
    const list = new SymbolList(engine.symbols, () => engine.symbolChanges);
    const now = Date.now();
    for (const [i, s] of ['BBB', 'AAA', 'CCC'].entries()) engine.ingest(trade(now - 1000, 100, 1, { symbol: s, tradeId: String(i + 1) }), now - 1000);
    expect(list.get(now)).toEqual(['AAA', 'BBB', 'CCC']);
    expect(engine.forget('BBB')).toBe(true);
    engine.ingest(trade(now - 500, 100, 1, { symbol: 'DDD', tradeId: '9' }), now - 500);
    // same count, same millisecond: still the list as it is now
    expect(list.get(now)).toEqual(['AAA', 'CCC', 'DDD']);
    expect(engine.evictIdle(now + 1)).toHaveLength(3);
    expect(list.get(now)).toEqual([]);
  });

  it('without a change counter, rebuilds when the count changes or once a second', () => {
    const keys = new Map([['A', 1], ['B', 2]]);
    const list = new SymbolList(keys);
    expect(list.get(0)).toEqual(['A', 'B']);
    keys.delete('A');
    keys.set('C', 3);
    expect(list.get(10)).toEqual(['A', 'B']); // the count did not change: up to a second old
    expect(list.get(1000)).toEqual(['B', 'C']);
  });
});
