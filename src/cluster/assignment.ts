/**
 * The target assignment of partitions to live members (SPEC §12): a pure
 * function every member evaluates on the same inputs, so all members agree
 * without talking to each other.
 *
 * - balanced: with N members each gets ⌊P/N⌋ or ⌈P/N⌉ partitions;
 * - minimal movement: the ⌈P/N⌉ quotas go to the members holding the most now,
 *   each member keeps as many of its current partitions as its quota allows
 *   (its lowest-numbered ones), and only the surplus and the unowned
 *   partitions move — to the members below quota, in member-id order;
 * - deterministic: ties are broken by member id, never by input order.
 */

/**
 * Returns `target[k]` = the member that should own partition `k`, or null
 * for every partition when there is no member.
 *
 * @param partitions P
 * @param members the live member ids (any order, duplicates ignored)
 * @param current `current[k]` = the member holding partition k now, or null;
 *   a holder that is not among `members` counts as no holder
 */
export function assignPartitions(partitions: number, members: readonly string[], current: readonly (string | null)[]): (string | null)[] {
  const ids = [...new Set(members)].sort(compareIds);
  const target: (string | null)[] = new Array<string | null>(partitions).fill(null);
  const n = ids.length;
  if (n === 0) return target;

  const holdings = new Map<string, number[]>(ids.map((id) => [id, []]));
  for (let k = 0; k < partitions; k++) {
    const owner = current[k];
    if (owner !== null && owner !== undefined) holdings.get(owner)?.push(k);
  }

  const base = Math.floor(partitions / n);
  const extra = partitions % n;
  // The larger quotas go to the members that hold the most: fewest moves.
  const byHoldings = [...ids].sort((a, b) => (holdings.get(b)?.length ?? 0) - (holdings.get(a)?.length ?? 0) || compareIds(a, b));
  const quota = new Map<string, number>(byHoldings.map((id, i) => [id, base + (i < extra ? 1 : 0)]));

  const leftover: number[] = [];
  const filled = new Map<string, number>();
  for (const id of ids) {
    const held = holdings.get(id) ?? [];
    const keep = Math.min(held.length, quota.get(id) ?? 0);
    for (let i = 0; i < held.length; i++) {
      const k = held[i] as number;
      if (i < keep) target[k] = id;
      else leftover.push(k);
    }
    filled.set(id, keep);
  }
  for (let k = 0; k < partitions; k++) {
    const owner = current[k];
    if (owner === null || owner === undefined || !holdings.has(owner)) leftover.push(k);
  }
  leftover.sort((a, b) => a - b);

  let next = 0;
  for (const id of ids) {
    let have = filled.get(id) ?? 0;
    const want = quota.get(id) ?? 0;
    while (have < want && next < leftover.length) {
      target[leftover[next++] as number] = id;
      have++;
    }
  }
  return target;
}

/** Code-unit order, the same in every member whatever its locale. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
