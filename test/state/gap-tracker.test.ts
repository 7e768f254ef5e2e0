import { describe, expect, it } from 'vitest';
import { MAX_GAP_PROVIDERS_PER_SYMBOL, TradeIdGapTracker } from '../../src/state/gap-tracker.js';

describe('TradeIdGapTracker', () => {
  it('tracks at most MAX_GAP_PROVIDERS_PER_SYMBOL providers; a later one is not gap-tracked (DECISIONS 71)', () => {
    const g = new TradeIdGapTracker();
    for (let i = 0; i < 64; i++) expect(g.observe(`p${i}`, '10')).toBe(0);
    expect(g.observe('late', '10')).toBe(0);
    expect(g.observe('late', '20')).toBe(0); // not tracked: no gap
    expect(g.observeInteger('late', 30)).toBe(0);
    expect(g.observe('p0', '13')).toBe(2); // the tracked ones still are
    expect(g.observeInteger('p63', 12)).toBe(1);
    expect(MAX_GAP_PROVIDERS_PER_SYMBOL).toBe(64);
  });
});
