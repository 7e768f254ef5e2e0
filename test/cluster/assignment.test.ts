import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignPartitions } from '../../src/cluster/assignment.js';

function counts(target: readonly (string | null)[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const id of target) if (id !== null) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

const scenario = fc
  .record({
    partitions: fc.integer({ min: 1, max: 64 }),
    members: fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 12 }),
    strangers: fc.array(fc.stringMatching(/^[A-Z]{1,3}$/), { maxLength: 3 }),
    seed: fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
  })
  .map(({ partitions, members, strangers, seed }) => {
    const pool: (string | null)[] = [null, ...members, ...strangers];
    const current = Array.from({ length: partitions }, (_, k) => pool[(seed[k] as number) % pool.length] ?? null);
    return { partitions, members, current };
  });

describe('assignPartitions', () => {
  it('spreads 12 partitions over 3, 2 and 4 members evenly', () => {
    const three = assignPartitions(12, ['c', 'a', 'b'], new Array(12).fill(null));
    expect(three).toEqual(['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b', 'c', 'c', 'c', 'c']);
    // b leaves: a and c keep theirs, b's four are split 2 / 2.
    const two = assignPartitions(12, ['a', 'c'], three);
    expect(counts(two)).toEqual(new Map([['a', 6], ['c', 6]]));
    for (let k = 0; k < 12; k++) if (three[k] !== 'b') expect(two[k]).toBe(three[k]);
    // d joins three balanced members: each gives up exactly one.
    const four = assignPartitions(12, ['a', 'b', 'c', 'd'], three);
    expect(counts(four)).toEqual(new Map([['a', 3], ['b', 3], ['c', 3], ['d', 3]]));
    expect(four.filter((id, k) => id !== three[k])).toHaveLength(3);
  });

  it('gives nothing to nobody', () => {
    expect(assignPartitions(3, [], ['a', null, 'b'])).toEqual([null, null, null]);
  });

  it('is balanced, complete, deterministic and moves the fewest partitions', () => {
    fc.assert(
      fc.property(scenario, ({ partitions, members, current }) => {
        const target = assignPartitions(partitions, members, current);
        // complete and only to members
        expect(target.every((id) => id !== null && members.includes(id))).toBe(true);
        // balanced
        const c = counts(target);
        const lo = Math.floor(partitions / members.length);
        for (const id of members) {
          const n = c.get(id) ?? 0;
          expect(n === lo || n === lo + 1).toBe(true);
        }
        // deterministic: input order does not matter
        expect(assignPartitions(partitions, [...members].reverse(), current)).toEqual(target);
        // minimal movement: a member keeps min(held, quota) of its partitions,
        // and the quotas ⌈P/N⌉ go to the largest holders.
        const held = members.map((id) => current.filter((o) => o === id).length).sort((a, b) => b - a);
        const extra = partitions % members.length;
        const kept = held.reduce((s, h, i) => s + Math.min(h, lo + (i < extra ? 1 : 0)), 0);
        const stayed = target.filter((id, k) => id === current[k]).length;
        expect(stayed).toBe(kept);
      }),
      { numRuns: 500 },
    );
  });

  it('changes nothing when the current owners are already balanced', () => {
    fc.assert(
      fc.property(scenario, ({ partitions, members }) => {
        const first = assignPartitions(partitions, members, new Array(partitions).fill(null));
        expect(assignPartitions(partitions, members, first)).toEqual(first);
      }),
      { numRuns: 200 },
    );
  });
});
