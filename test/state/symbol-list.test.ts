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
    expect(list.get()).toEqual(['AAA', 'BBB', 'CCC']);
    expect(engine.forget('BBB')).toBe(true);
    engine.ingest(trade(now - 500, 100, 1, { symbol: 'DDD', tradeId: '9' }), now - 500);
    // the same count: the list as it is now all the same
    expect(list.get()).toEqual(['AAA', 'CCC', 'DDD']);
    expect(engine.evictIdle(now + 1)).toHaveLength(3);
    expect(list.get()).toEqual([]);
  });
});
