import { shiftUpOne } from './circular-shift.js';

/** `tag` of a trade whose dedup key is not an (interned provider, integer id) pair. */
export const NO_INTEGER_KEY = -1;

/**
 * The trades of one window in `(ts, arrival)` order. The records live in
 * typed-array columns in arrival order, where they never move (so a dedup
 * table can point at their slots); a ring of slot numbers, the order index,
 * puts them in `(ts, arrival)` order. A late trade (exchange latency jitter
 * makes them common) moves four bytes per newer record instead of every
 * column. Order positions are absolute and never change while a trade stays,
 * as in `TimeRing`, whose reading API this mirrors.
 *
 * Trades leave in order of `ts`; a slot is reused once every trade that
 * arrived before it has left too (late trades keep a few slots a little
 * longer).
 */
export class TradeRecords {
  private cap: number;
  private mask: number;
  /** Columns by slot. A slot whose trade left has ts NaN. */
  ts: Float64Array;
  price: Float64Array;
  size: Float64Array;
  /** Integer trade id, when `tag` holds its interned provider. */
  id: Float64Array;
  tag: Int16Array;
  /** String dedup keys by slot; null until one is needed. */
  refs: (string | null)[] | null = null;
  /** Arrival positions of the slots in use: `[arrivalStart, arrivalEnd)`. */
  private arrivalStart = 0;
  private arrivalEnd = 0;
  /** Slots in `(ts, arrival)` order, by order position. */
  private order: Int32Array;
  /** Order position of the oldest trade. */
  start = 0;
  /** Order position one past the newest trade. */
  end = 0;

  constructor(initialCapacity = 16) {
    let cap = 1;
    while (cap < initialCapacity) cap <<= 1;
    this.cap = cap;
    this.mask = cap - 1;
    this.ts = new Float64Array(cap);
    this.price = new Float64Array(cap);
    this.size = new Float64Array(cap);
    this.id = new Float64Array(cap);
    this.tag = new Int16Array(cap);
    this.order = new Int32Array(cap);
  }

  get length(): number {
    return this.end - this.start;
  }

  /** Slots allocated; they move (and the capacity doubles) when a trade arrives with every slot in use. */
  get capacity(): number {
    return this.cap;
  }

  /** Whether the next {@link insert} moves every slot. */
  get full(): boolean {
    return this.arrivalEnd - this.arrivalStart === this.cap;
  }

  /** The slot of the trade at order position `pos`. */
  slot(pos: number): number {
    return this.order[pos & this.mask]!;
  }

  tsAt(pos: number): number {
    return this.ts[this.order[pos & this.mask]!]!;
  }

  priceAt(pos: number): number {
    return this.price[this.order[pos & this.mask]!]!;
  }

  sizeAt(pos: number): number {
    return this.size[this.order[pos & this.mask]!]!;
  }

  /** Column `c` (0: price, 1: size) at order position `pos`. */
  col(c: number, pos: number): number {
    const s = this.order[pos & this.mask]!;
    return c === 0 ? this.price[s]! : this.size[s]!;
  }

  ref(pos: number): string | null {
    return this.refs === null ? null : this.refs[this.order[pos & this.mask]!]!;
  }

  /** Where a trade at time `ts` goes: after every trade with time ≤ ts. */
  insertionPoint(ts: number): number {
    const end = this.end;
    if (end === this.start || this.tsAt(end - 1) <= ts) return end; // in order: the common case
    return insertionPointIndexed(this.ts, this.order, this.mask, this.start, end, ts);
  }

  /** Inserts a trade at order position `pos` (from {@link insertionPoint}); returns its slot. */
  insert(pos: number, ts: number, price: number, size: number, id: number, tag: number, ref: string | null): number {
    if (this.full) this.grow();
    const mask = this.mask;
    const slot = this.arrivalEnd & mask;
    this.arrivalEnd++;
    this.ts[slot] = ts;
    this.price[slot] = price;
    this.size[slot] = size;
    this.id[slot] = id;
    this.tag[slot] = tag;
    if (ref !== null) {
      if (this.refs === null) this.refs = new Array<string | null>(this.cap).fill(null);
      this.refs[slot] = ref;
    } else if (this.refs !== null) {
      this.refs[slot] = null;
    }
    if (pos < this.end) shiftUpOne(this.order, pos & mask, this.end & mask, this.cap);
    this.order[pos & mask] = slot;
    this.end++;
    return slot;
  }

  /** Drops the oldest trade (whose key the owner has already forgotten). */
  shift(): void {
    const mask = this.mask;
    const s = this.order[this.start & mask]!;
    this.ts[s] = NaN;
    if (this.refs !== null) this.refs[s] = null;
    this.start++;
    const ts = this.ts;
    while (this.arrivalStart < this.arrivalEnd && Number.isNaN(ts[this.arrivalStart & mask])) this.arrivalStart++;
  }

  private grow(): void {
    const oldMask = this.mask;
    const cap = this.cap * 2;
    const mask = cap - 1;
    const ts = new Float64Array(cap).fill(NaN);
    const price = new Float64Array(cap);
    const size = new Float64Array(cap);
    const id = new Float64Array(cap);
    const tag = new Int16Array(cap);
    const refs = this.refs === null ? null : new Array<string | null>(cap).fill(null);
    for (let a = this.arrivalStart; a < this.arrivalEnd; a++) {
      const from = a & oldMask;
      const to = a & mask;
      ts[to] = this.ts[from]!;
      price[to] = this.price[from]!;
      size[to] = this.size[from]!;
      id[to] = this.id[from]!;
      tag[to] = this.tag[from]!;
      if (refs !== null) refs[to] = this.refs![from]!;
    }
    // the order index holds old slots: map each back to its arrival position, then to its new slot
    const order = new Int32Array(cap);
    const base = this.arrivalStart & oldMask;
    for (let p = this.start; p < this.end; p++) {
      const old = this.order[p & oldMask]!;
      const arrival = this.arrivalStart + ((old - base) & oldMask);
      order[p & mask] = arrival & mask;
    }
    this.ts = ts;
    this.price = price;
    this.size = size;
    this.id = id;
    this.tag = tag;
    this.refs = refs;
    this.order = order;
    this.cap = cap;
    this.mask = mask;
  }
}

/** {@link insertionPoint} over times reached through the order index. */
function insertionPointIndexed(times: Float64Array, order: Int32Array, mask: number, start: number, end: number, ts: number): number {
  let hi = end - 1; // times at hi is > ts
  let step = 1;
  let lo = hi - step;
  while (lo > start && times[order[lo & mask]!]! > ts) {
    hi = lo;
    step *= 2;
    lo = hi - step;
  }
  if (lo < start) lo = start;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >>> 1);
    if (times[order[mid & mask]!]! <= ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
