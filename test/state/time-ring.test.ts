import { describe, expect, it } from 'vitest';
import { TimeRing } from '../../src/state/time-ring.js';

function contents(r: TimeRing): number[][] {
  const out: number[][] = [];
  for (let p = r.start; p < r.end; p++) out.push([r.tsAt(p), r.valueAt(p)]);
  return out;
}

describe('TimeRing', () => {
  it('keeps (ts, arrival) order for out-of-order inserts and equal times', () => {
    const r = new TimeRing(2);
    for (const [ts, v] of [[10, 1], [30, 2], [20, 3], [20, 4], [5, 5], [30, 6]] as const) r.insert(r.insertionPoint(ts), ts, v);
    expect(contents(r)).toEqual([[5, 5], [10, 1], [20, 3], [20, 4], [30, 2], [30, 6]]);
  });

  it('grows across wrap-around without losing records or positions', () => {
    const r = new TimeRing(4);
    for (let i = 0; i < 3; i++) r.insert(r.end, i, i);
    r.shift();
    r.shift();
    for (let i = 3; i < 40; i++) r.insert(r.insertionPoint(i), i, i);
    expect(r.length).toBe(38);
    expect(r.tsAt(r.start)).toBe(2);
    expect(r.valueAt(r.end - 1)).toBe(39);
    expect(contents(r).map((x) => x[0])).toEqual(Array.from({ length: 38 }, (_, i) => i + 2));
  });
});
