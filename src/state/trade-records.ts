import type { TradeSide } from '../domain/events.js';
import { shiftUpOne } from './circular-shift.js';

/** `tag` of a trade whose dedup key is not an (interned provider, integer id) pair. */
export const NO_INTEGER_KEY = -1;

/** The `side` column's codes. */
export const SIDE_NONE = 0;
export const SIDE_BUY = 1;
export const SIDE_SELL = 2;

/**
 * One trade to store, as one value. The engine fills a single instance per
 * trade (no allocation on the hot path); a new column is a new field here.
 */
export interface TradeRecord {
  ts: number;
  price: number;
  size: number;
  side: TradeSide | null;
  /** Interned provider index when the dedup key is (provider, integer id); else {@link NO_INTEGER_KEY}. */
  provider: number;
  /** The integer trade id when `provider` is set. */
  id: number;
  /** The string dedup key otherwise (null: no key). */
  key: string | null;
}

/** A fresh, empty trade record to fill and reuse. */
export function emptyTradeRecord(): TradeRecord {
  return { ts: 0, price: 0, size: 0, side: null, provider: NO_INTEGER_KEY, id: 0, key: null };
}

function sideCode(side: TradeSide | null): number {
  return side === 'buy' ? SIDE_BUY : side === 'sell' ? SIDE_SELL : SIDE_NONE;
}
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
  /** {@link SIDE_NONE}, {@link SIDE_BUY} or {@link SIDE_SELL}. */
  side: Int8Array;
  /** Integer trade id, when `tag` holds its interned provider. */
  id: Float64Array;
  tag: Int16Array;
  /** String dedup keys by slot; null until one is needed. */
  private keys: (string | null)[] | null = null;
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
    this.side = new Int8Array(cap);
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

  sideAt(pos: number): number {
    return this.side[this.order[pos & this.mask]!]!;
  }

  /** The string dedup key stored at `slot`, or null. */
  keyAt(slot: number): string | null {
    return this.keys === null ? null : this.keys[slot]!;
  }

  /** Where a trade at time `ts` goes: after every trade with time ≤ ts. */
  insertionPoint(ts: number): number {
    const end = this.end;
    if (end === this.start || this.tsAt(end - 1) <= ts) return end; // in order: the common case
    return insertionPointIndexed(this.ts, this.order, this.mask, this.start, end, ts);
  }

  /** Inserts a trade at order position `pos` (from {@link insertionPoint}); returns its slot. */
  insert(pos: number, t: TradeRecord): number {
    if (this.full) this.grow();
    const mask = this.mask;
    const slot = this.arrivalEnd & mask;
    this.arrivalEnd++;
    this.ts[slot] = t.ts;
    this.price[slot] = t.price;
    this.size[slot] = t.size;
    this.side[slot] = sideCode(t.side);
    const integerKey = t.provider >= 0;
    this.id[slot] = integerKey ? t.id : 0;
    this.tag[slot] = integerKey ? t.provider : NO_INTEGER_KEY;
    const key = integerKey ? null : t.key;
    if (key !== null) {
      if (this.keys === null) this.keys = new Array<string | null>(this.cap).fill(null);
      this.keys[slot] = key;
    } else if (this.keys !== null) {
      this.keys[slot] = null;
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
    if (this.keys !== null) this.keys[s] = null;
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
    const side = new Int8Array(cap);
    const id = new Float64Array(cap);
    const tag = new Int16Array(cap);
    const keys = this.keys === null ? null : new Array<string | null>(cap).fill(null);
    for (let a = this.arrivalStart; a < this.arrivalEnd; a++) {
      const from = a & oldMask;
      const to = a & mask;
      ts[to] = this.ts[from]!;
      price[to] = this.price[from]!;
      size[to] = this.size[from]!;
      side[to] = this.side[from]!;
      id[to] = this.id[from]!;
      tag[to] = this.tag[from]!;
      if (keys !== null) keys[to] = this.keys![from]!;
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
    this.side = side;
    this.id = id;
    this.tag = tag;
    this.keys = keys;
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
