/**
 * A multiset of numbers with exact order statistics, kept as a list of sorted
 * blocks (the layout of Python's `sortedcontainers.SortedList`). Insert and
 * delete cost O(log n + B) with B ≤ 2·LOAD; the k-th smallest walks the block
 * lengths, O(n / LOAD). Latency percentiles need the exact nearest rank without
 * sorting the window on every event.
 */
const LOAD = 256;

export class SortedMultiset {
  private blocks: number[][] = [];
  /** maxes[i] is the largest value of blocks[i]. */
  private maxes: number[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  clear(): void {
    this.blocks = [];
    this.maxes = [];
    this.count = 0;
  }

  add(v: number): void {
    const maxes = this.maxes;
    if (maxes.length === 0) {
      this.blocks.push([v]);
      maxes.push(v);
      this.count = 1;
      return;
    }
    let bi = firstAtLeast(maxes, v);
    if (bi === maxes.length) bi--;
    const block = this.blocks[bi]!;
    const at = upperBound(block, v);
    block.splice(at, 0, v);
    if (v > maxes[bi]!) maxes[bi] = v;
    this.count++;
    if (block.length > 2 * LOAD) {
      const tail = block.splice(LOAD);
      this.blocks.splice(bi + 1, 0, tail);
      maxes[bi] = block[block.length - 1]!;
      maxes.splice(bi + 1, 0, tail[tail.length - 1]!);
    }
  }

  /** Removes one occurrence of v; returns false when v is not present. */
  delete(v: number): boolean {
    const maxes = this.maxes;
    const bi = firstAtLeast(maxes, v);
    if (bi === maxes.length) return false;
    const block = this.blocks[bi]!;
    const at = lowerBound(block, v);
    if (at === block.length || block[at] !== v) return false;
    block.splice(at, 1);
    this.count--;
    if (block.length === 0) {
      this.blocks.splice(bi, 1);
      maxes.splice(bi, 1);
    } else if (at === block.length) {
      maxes[bi] = block[block.length - 1]!;
    }
    return true;
  }

  /** The k-th smallest value, 1-based; undefined when out of range. */
  kth(k: number): number | undefined {
    if (k < 1 || k > this.count) return undefined;
    const blocks = this.blocks;
    if (k > this.count / 2) {
      // walk from the top for upper percentiles
      let rest = this.count - k;
      for (let i = blocks.length - 1; i >= 0; i--) {
        const b = blocks[i]!;
        if (rest < b.length) return b[b.length - 1 - rest];
        rest -= b.length;
      }
      return undefined;
    }
    let rest = k - 1;
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i]!;
      if (rest < b.length) return b[rest];
      rest -= b.length;
    }
    return undefined;
  }

  /** Nearest-rank percentile: the ⌈p·n⌉-th smallest; null when empty. */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const k = Math.max(1, Math.ceil(p * this.count));
    return this.kth(k) ?? null;
  }
}

/** First index i with a[i] >= v (a sorted ascending). */
function firstAtLeast(a: readonly number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
const lowerBound = firstAtLeast;

/** First index i with a[i] > v. */
function upperBound(a: readonly number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
