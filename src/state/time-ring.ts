import { shiftUpOne } from './circular-shift.js';

/**
 * Records kept in `(ts, arrival)` order in growable typed-array rings, addressed
 * by absolute positions that never change while a record stays. In-order
 * appends are O(1); an out-of-order record is placed by a search back from the
 * newest, and the records after it shift up by one with a memmove per column
 * (late arrivals land near the end, so few move). The ring doubles when full;
 * the owner's time-based eviction bounds it.
 */
export class TimeRing {
  private cap: number;
  private mask: number;
  /** Event times, ms. */
  ts: Float64Array;
  /** Numeric columns. */
  readonly cols: Float64Array[];
  /** One optional reference column (e.g. dedup keys); null until {@link enableRefs}. */
  refs: (string | null)[] | null;
  /** One optional small-integer column (e.g. interned providers); null when unused. */
  tags: Int32Array | null;
  /** Absolute position of the oldest record. */
  start = 0;
  /** Absolute position one past the newest record. */
  end = 0;

  constructor(columns: number, withRefs: boolean, initialCapacity = 16, withTags = false) {
    let cap = 1;
    while (cap < initialCapacity) cap <<= 1;
    this.cap = cap;
    this.mask = cap - 1;
    this.ts = new Float64Array(cap);
    this.cols = Array.from({ length: columns }, () => new Float64Array(cap));
    this.refs = withRefs ? new Array<string | null>(cap).fill(null) : null;
    this.tags = withTags ? new Int32Array(cap) : null;
  }

  get length(): number {
    return this.end - this.start;
  }

  /** Slots allocated; the ring grows (and slots move) when a record is inserted into a full ring. */
  get capacity(): number {
    return this.cap;
  }

  /** Physical slot of an absolute position. */
  slot(pos: number): number {
    return pos & this.mask;
  }

  tsAt(pos: number): number {
    return this.ts[pos & this.mask]!;
  }

  col(c: number, pos: number): number {
    return this.cols[c]![pos & this.mask]!;
  }

  ref(pos: number): string | null {
    return this.refs === null ? null : this.refs[pos & this.mask]!;
  }

  /** Starts keeping references (all null so far). */
  enableRefs(): void {
    if (this.refs === null) this.refs = new Array<string | null>(this.cap).fill(null);
  }

  /** Where a record with time `ts` goes: after every record with time ≤ ts. */
  insertionPoint(ts: number): number {
    return insertionPoint(this.ts, this.mask, this.start, this.end, ts);
  }

  /** Inserts at absolute position `pos` (from {@link insertionPoint}), shifting newer records up. */
  insert(pos: number, ts: number, c0: number, c1: number, ref: string | null, c2 = 0, tag = 0): void {
    if (this.end - this.start === this.cap) this.grow();
    const mask = this.mask;
    const cols = this.cols;
    const ncols = cols.length;
    const times = this.ts;
    const refs = this.refs;
    const tags = this.tags;
    if (pos < this.end) {
      const from = pos & mask;
      const end = this.end & mask;
      const cap = this.cap;
      shiftUpOne(times, from, end, cap);
      for (let c = 0; c < ncols; c++) shiftUpOne(cols[c]!, from, end, cap);
      if (refs !== null) shiftUpOne(refs, from, end, cap);
      if (tags !== null) shiftUpOne(tags, from, end, cap);
    }
    const s = pos & mask;
    times[s] = ts;
    if (ncols > 0) cols[0]![s] = c0;
    if (ncols > 1) cols[1]![s] = c1;
    if (ncols > 2) cols[2]![s] = c2;
    if (refs !== null) refs[s] = ref;
    if (tags !== null) tags[s] = tag;
    this.end++;
  }

  /** Drops the oldest record. */
  shift(): void {
    if (this.refs !== null) this.refs[this.start & this.mask] = null;
    this.start++;
  }

  private grow(): void {
    const oldMask = this.mask;
    const cap = this.cap * 2;
    const mask = cap - 1;
    const ts = new Float64Array(cap);
    const cols = this.cols.map(() => new Float64Array(cap));
    const refs = this.refs === null ? null : new Array<string | null>(cap).fill(null);
    const tags = this.tags === null ? null : new Int32Array(cap);
    for (let p = this.start; p < this.end; p++) {
      const from = p & oldMask;
      const to = p & mask;
      ts[to] = this.ts[from]!;
      for (let c = 0; c < cols.length; c++) cols[c]![to] = this.cols[c]![from]!;
      if (refs !== null) refs[to] = this.refs![from]!;
      if (tags !== null) tags[to] = this.tags![from]!;
    }
    this.ts = ts;
    for (let c = 0; c < cols.length; c++) this.cols[c] = cols[c]!;
    this.refs = refs;
    this.tags = tags;
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
