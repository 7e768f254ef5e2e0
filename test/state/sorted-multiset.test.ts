import { describe, expect, it } from 'vitest';
import { SortedMultiset } from '../../src/state/sorted-multiset.js';

describe('SortedMultiset', () => {
  it('answers nearest-rank percentiles: the ceil(p*n)-th smallest', () => {
    const m = new SortedMultiset();
    expect(m.percentile(0.5)).toBeNull();
    for (const v of [5, 1, 4, 2, 3]) m.add(v);
    expect(m.percentile(0.5)).toBe(3); // ceil(2.5) = 3rd
    expect(m.percentile(0.95)).toBe(5); // ceil(4.75) = 5th
    m.add(6);
    expect(m.percentile(0.5)).toBe(3); // ceil(3) = 3rd
    expect(m.percentile(0.95)).toBe(6);
  });

  it('keeps duplicates and deletes one occurrence at a time', () => {
    const m = new SortedMultiset();
    for (const v of [2, 2, 2, 1]) m.add(v);
    expect(m.delete(2)).toBe(true);
    expect(m.size).toBe(3);
    expect([m.kth(1), m.kth(2), m.kth(3)]).toEqual([1, 2, 2]);
    expect(m.delete(7)).toBe(false);
  });

  it('matches a sorted array through thousands of random adds and deletes across block splits', () => {
    const m = new SortedMultiset();
    const ref: number[] = [];
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20000; i++) {
      if (ref.length > 0 && rnd() < 0.45) {
        const v = ref[Math.floor(rnd() * ref.length)]!;
        ref.splice(ref.indexOf(v), 1);
        expect(m.delete(v)).toBe(true);
      } else {
        const v = Math.round(rnd() * 500) / 4;
        ref.push(v);
        m.add(v);
      }
      if (i % 997 === 0) {
        const sorted = [...ref].sort((a, b) => a - b);
        for (const k of [1, Math.ceil(sorted.length / 2), sorted.length]) expect(m.kth(k)).toBe(sorted[k - 1]);
      }
    }
    expect(m.size).toBe(ref.length);
  });
});
