/**
 * Records kept in `(ts, arrival)` order in growable typed-array rings, addressed
 * by absolute positions that never change while a record stays. In-order
 * appends are O(1); an out-of-order record is placed by binary search and the
 * newer records after it shift up by one (few, since late arrivals are near the
 * end). The ring doubles when full; the owner's time-based eviction bounds it.
 */
export class TimeRing {
  private capacity: number;
  private mask: number;
  /** Event times, ms. */
  ts: Float64Array;
  /** Numeric columns. */
  readonly cols: Float64Array[];
  /** One optional reference column (e.g. dedup keys); null when unused. */
  refs: (string | null)[] | null;
  /** Absolute position of the oldest record. */
  start = 0;
  /** Absolute position one past the newest record. */
  end = 0;

  constructor(columns: number, withRefs: boolean, initialCapacity = 16) {
    let cap = 1;
    while (cap < initialCapacity) cap <<= 1;
    this.capacity = cap;
    this.mask = cap - 1;
    this.ts = new Float64Array(cap);
    this.cols = Array.from({ length: columns }, () => new Float64Array(cap));
    this.refs = withRefs ? new Array<string | null>(cap).fill(null) : null;
  }

  get length(): number {
    return this.end - this.start;
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

  /** Where a record with time `ts` goes: after every record with time ≤ ts. */
  insertionPoint(ts: number): number {
    let lo = this.start;
    let hi = this.end;
    if (hi === lo || this.ts[(hi - 1) & this.mask]! <= ts) return hi; // in order: the common case
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (this.ts[mid & this.mask]! <= ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Inserts at absolute position `pos` (from {@link insertionPoint}), shifting newer records up. */
  insert(pos: number, ts: number, c0: number, c1: number, ref: string | null): void {
    if (this.end - this.start === this.capacity) this.grow();
    const mask = this.mask;
    const cols = this.cols;
    for (let p = this.end; p > pos; p--) {
      const to = p & mask;
      const from = (p - 1) & mask;
      this.ts[to] = this.ts[from]!;
      for (let c = 0; c < cols.length; c++) cols[c]![to] = cols[c]![from]!;
      if (this.refs !== null) this.refs[to] = this.refs[from]!;
    }
    const s = pos & mask;
    this.ts[s] = ts;
    if (cols.length > 0) cols[0]![s] = c0;
    if (cols.length > 1) cols[1]![s] = c1;
    if (this.refs !== null) this.refs[s] = ref;
    this.end++;
  }

  /** Drops the oldest record. */
  shift(): void {
    if (this.refs !== null) this.refs[this.start & this.mask] = null;
    this.start++;
  }

  private grow(): void {
    const oldMask = this.mask;
    const cap = this.capacity * 2;
    const mask = cap - 1;
    const ts = new Float64Array(cap);
    const cols = this.cols.map(() => new Float64Array(cap));
    const refs = this.refs === null ? null : new Array<string | null>(cap).fill(null);
    for (let p = this.start; p < this.end; p++) {
      const from = p & oldMask;
      const to = p & mask;
      ts[to] = this.ts[from]!;
      for (let c = 0; c < cols.length; c++) cols[c]![to] = this.cols[c]![from]!;
      if (refs !== null) refs[to] = this.refs![from]!;
    }
    this.ts = ts;
    for (let c = 0; c < cols.length; c++) this.cols[c] = cols[c]!;
    this.refs = refs;
    this.capacity = cap;
    this.mask = mask;
  }
}
