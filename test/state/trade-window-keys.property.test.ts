/**
 * Property test: the dedup keys of TradeWindow (integer keys in an
 * open-addressing table over record slots, string keys in a Set) against a
 * naive list of the keys in the window, through out-of-order inserts, slot
 * growth and eviction.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TradeWindow } from '../../src/state/trade-window.js';

const W = 1_000;

const step = fc.record({
  dt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 300, max: 1_500 })),
  back: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 900 }) }),
  provider: fc.integer({ min: 0, max: 2 }),
  id: fc.integer({ min: 0, max: 60 }),
  stringKey: fc.boolean(),
});

describe('TradeWindow dedup keys', () => {
  it('contains() matches the keys of the trades in (t − W, t]', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 400 }), (steps) => {
        const w = new TradeWindow(W);
        const model: { ts: number; key: string }[] = [];
        let t = 0;
        for (const s of steps) {
          t += s.dt;
          w.advance(t);
          for (let i = model.length - 1; i >= 0; i--) if (model[i]!.ts <= t - W) model.splice(i, 1);
          const ts = t - Math.min(s.back, W - 1);
          const key = `${s.stringKey ? 's' : 'i'}${s.provider}:${s.id}`;
          const inModel = model.some((m) => m.key === key);
          const provider = s.stringKey ? -1 : s.provider;
          const skey = s.stringKey ? key : null;
          expect(w.contains(provider, s.id, skey)).toBe(inModel);
          if (!inModel) {
            w.add({ ts, price: 100 + s.id, size: 1, side: null, provider, id: s.id, key: skey }, t);
            model.push({ ts, key });
          }
          expect(w.size).toBe(model.length);
        }
        // every key still in the window is found, and one never added is not
        for (const m of model) {
          const stringKey = m.key.startsWith('s');
          const [p, id] = m.key.slice(1).split(':').map(Number) as [number, number];
          expect(w.contains(stringKey ? -1 : p, id, stringKey ? m.key : null)).toBe(true);
        }
        expect(w.contains(0, 1_000, null)).toBe(false);
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});
