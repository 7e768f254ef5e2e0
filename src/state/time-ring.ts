import { shiftUpOne } from './circular-shift.js';

/**
 * Timed values kept in `(ts, arrival)` order in growable typed-array rings,
 * addressed by absolute positions that never change while a value stays.
 * In-order appends are O(1); an out-of-order value is placed by a search back
 * from the newest, and the values after it shift up by one with a memmove
 * (late arrivals land near the end, so few move). The ring doubles when full;
 * the owner's time-based eviction bounds it.
 */
export class TimeRing {
  private cap: number;
  private mask: number;
  /** Event times, ms. */
  ts: Float64Array;
  values: Float64Array;
  /** Absolute position of the oldest value. */
  start = 0;
  /** Absolute position one past the newest value. */
  end = 0;

  constructor(initialCapacity = 16) {
    let cap = 1;
    while (cap < initialCapacity) cap <<= 1;
    this.cap = cap;
    this.mask = cap - 1;
    this.ts = new Float64Array(cap);
    this.values = new Float64Array(cap);
  }

  get length(): number {
    return this.end - this.start;
  }

  tsAt(pos: number): number {
    return this.ts[pos & this.mask]!;
  }

  valueAt(pos: number): number {
    return this.values[pos & this.mask]!;
  }

  /** Where a value with time `ts` goes: after every value with time ≤ ts. */
  insertionPoint(ts: number): number {
    return insertionPoint(this.ts, this.mask, this.start, this.end, ts);
  }

  /** Inserts at absolute position `pos` (from {@link insertionPoint}), shifting newer values up. */
  insert(pos: number, ts: number, value: number): void {
    if (this.end - this.start === this.cap) this.grow();
    const mask = this.mask;
    if (pos < this.end) {
      const from = pos & mask;
      const end = this.end & mask;
      shiftUpOne(this.ts, from, end, this.cap);
      shiftUpOne(this.values, from, end, this.cap);
    }
    const s = pos & mask;
    this.ts[s] = ts;
    this.values[s] = value;
    this.end++;
  }

  /** Drops the oldest value. */
  shift(): void {
    this.start++;
  }

  private grow(): void {
    const oldMask = this.mask;
    const cap = this.cap * 2;
    const mask = cap - 1;
    const ts = new Float64Array(cap);
    const values = new Float64Array(cap);
    for (let p = this.start; p < this.end; p++) {
      ts[p & mask] = this.ts[p & oldMask]!;
      values[p & mask] = this.values[p & oldMask]!;
    }
    this.ts = ts;
    this.values = values;
    this.cap = cap;
    this.mask = mask;
  }
}

/**
 * Where a record with time `ts` goes among the times at positions
 * `[start, end)` of a ring: after every time ≤ ts. In-order arrivals cost one
 * compare; late ones gallop back from the newest, then binary-search, so the
 * cost grows with how far back the record lands, not with the window.
 */
export function insertionPoint(times: Float64Array, mask: number, start: number, end: number, ts: number): number {
  if (end === start || times[(end - 1) & mask]! <= ts) return end;
  // the answer is in [lo, hi): times[hi] > ts is known
  let hi = end - 1;
  let step = 1;
  let lo = hi - step;
  while (lo > start && times[lo & mask]! > ts) {
    hi = lo;
    step *= 2;
    lo = hi - step;
  }
  if (lo < start) lo = start;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >>> 1);
    if (times[mid & mask]! <= ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
