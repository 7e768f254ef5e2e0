import { CompensatedSum } from './compensated-sum.js';
import { NO_INTEGER_KEY, TradeRecords } from './trade-records.js';

/**
 * Running aggregates over the newest trades of a window, those with
 * `ts > t − horizon`: count, Σsize, Σprice·size and the sums of the log returns
 * between consecutive trades. `first` is the absolute position of the oldest
 * trade inside; it only moves forward as the clock advances.
 */
export class SuffixStats {
  first = 0;
  count = 0;
  readonly volume = new CompensatedSum();
  readonly notional = new CompensatedSum();
  returns = 0;
  /**
   * Returns are summed as `r − shift`: the variance does not change, and with
   * the shift near the mean the sum of squares does not cancel when returns
   * are nearly equal (Σr² − (Σr)²/n loses every digit there).
   */
  private shift = 0;
  private hasShift = false;
  readonly sumR = new CompensatedSum();
  readonly sumR2 = new CompensatedSum();
  /** Updates since the sums were last rebuilt from the records. */
  opsSinceRebuild = 0;

  constructor(readonly horizonMs: number) {}

  addTrade(price: number, size: number): void {
    this.count++;
    this.volume.add(size);
    this.notional.add(price * size);
  }

  removeTrade(price: number, size: number): void {
    this.count--;
    this.volume.add(-size);
    this.notional.add(-(price * size));
  }

  addReturn(r: number): void {
    if (!this.hasShift) {
      this.shift = r;
      this.hasShift = true;
    }
    const d = r - this.shift;
    this.returns++;
    this.sumR.add(d);
    this.sumR2.add(d * d);
  }

  removeReturn(r: number): void {
    const d = r - this.shift;
    this.returns--;
    this.sumR.add(-d);
    this.sumR2.add(-(d * d));
    if (this.returns === 0) this.resetReturns();
  }

  private resetReturns(): void {
    this.returns = 0;
    this.sumR.reset();
    this.sumR2.reset();
    this.hasShift = false;
  }

  reset(): void {
    this.count = 0;
    this.volume.reset();
    this.notional.reset();
    this.resetReturns();
    this.opsSinceRebuild = 0;
  }

  /** Σsize, exactly 0 when empty. */
  get totalVolume(): number {
    return this.count === 0 ? 0 : this.volume.value;
  }

  /** Σprice·size / Σsize, or null when empty. */
  get vwap(): number | null {
    return this.count === 0 ? null : this.notional.value / this.volume.value;
  }

  /** Starts the return sums afresh around `shift` (ideally the mean of the returns to come). */
  restartReturns(shift: number): void {
    this.resetReturns();
    this.shift = shift;
    this.hasShift = true;
  }

  /**
   * Sample variance (n − 1) of the log returns from the shifted sums, with a
   * flag telling that cancellation may have eaten its digits: its relative
   * error is about ε·m²/v for m the mean shifted return, so the sums are
   * re-centred when m² exceeds 10⁶·v (an already centred shift, |m| ≤ 1e-15,
   * costs nothing that matters). Null with fewer than 2 returns.
   */
  varianceOfReturns(): { variance: number; unreliable: boolean } | null {
    const n = this.returns;
    if (n < 2) return null;
    const s = this.sumR.value;
    const m = s / n;
    const v = Math.max(0, (this.sumR2.value - s * m) / (n - 1));
    return { variance: v, unreliable: Math.abs(m) > 1e-15 && m * m > 1e6 * v };
  }
}

/** Log return between two consecutive trades. */
function logReturn(from: number, to: number): number {
  return Math.log(to / from);
}

/**
 * The table slot hash of an interned provider and an integer trade id
 * (< 2^53). Ids are mixed in blocks of 16 and keep their low 4 bits, so
 * consecutive ids, the usual case, share a cache line of the table.
 */
function keyHash(provider: number, id: number): number {
  const block = id / 16;
  const lo = block >>> 0;
  const hi = (block / 4294967296) | 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1) ^ Math.imul(provider + 1, 0x85ebca6b), 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 13;
  return (h << 4) | (id & 15);
}

/**
 * The trades of one symbol with `ts` in `(t − W, t]`, in `(ts, arrival)` order,
 * with the 10 s and 60 s aggregates kept incrementally (O(1) amortised per
 * trade) and the `(provider, trade_id)` keys for duplicate detection.
 *
 * Keys come in two forms. The common one, an interned provider and an integer
 * id, lives in the records' columns (tag, id) and in an open-addressing table
 * of their slots: a few bytes per trade and no allocation. Any other key (ids
 * that are not plain integers, providers past the intern limit) is a string in
 * `keys` and in the records' reference column.
 */
export class TradeWindow {
  readonly ring = new TradeRecords();
  /** String dedup keys of the trades inside the window. */
  readonly keys = new Set<string>();
  /** Trades in `(t − min(10 s, W), t]`. */
  readonly short: SuffixStats;
  /** Trades in `(t − min(60 s, W), t]`. */
  readonly long: SuffixStats;
  private readonly suffixes: SuffixStats[];
  /** Linear-probing table of `slot + 1` (0: empty) of the trades with integer keys; at most half full. */
  private table = new Int32Array(32);
  private tableMask = 31;
  private integerKeys = 0;
  /**
   * Per interned provider, the largest integer id ever added: a larger id
   * cannot be in the window, which answers the usual lookup (ids rise) without
   * touching the table.
   */
  private maxIds = new Float64Array(0);

  constructor(
    readonly windowMs: number,
    shortMs = 10_000,
    longMs = 60_000,
  ) {
    this.short = new SuffixStats(Math.min(shortMs, windowMs));
    this.long = new SuffixStats(Math.min(longMs, windowMs));
    this.suffixes = [this.short, this.long];
  }

  get size(): number {
    return this.ring.length;
  }

  /**
   * Whether the window holds a trade with this key: `provider` (an interned
   * index, ≥ 0) with the integer `id`, else the string `key` (null: no key).
   */
  contains(provider: number, id: number, key: string | null): boolean {
    if (provider >= 0) return provider < this.maxIds.length && id <= this.maxIds[provider]! && this.findSlot(provider, id) >= 0;
    return key !== null && this.keys.has(key);
  }

  /** Moves the window to clock `t`: suffix boundaries first, then eviction of `ts ≤ t − W`. */
  advance(t: number): void {
    const ring = this.ring;
    for (let i = 0; i < this.suffixes.length; i++) {
      const sfx = this.suffixes[i]!;
      const cutoff = t - sfx.horizonMs;
      let p = sfx.first;
      const end = ring.end;
      if (p < end && ring.tsAt(p) <= cutoff) {
        let price = ring.priceAt(p);
        do {
          sfx.removeTrade(price, ring.sizeAt(p));
          if (p + 1 < end) {
            const next = ring.priceAt(p + 1);
            sfx.removeReturn(logReturn(price, next));
            price = next;
          }
          sfx.opsSinceRebuild++;
          p++;
        } while (p < end && ring.tsAt(p) <= cutoff);
      }
      sfx.first = p;
      if (sfx.count === 0) sfx.reset(); // an empty suffix sums to exactly zero
    }
    const cutoff = t - this.windowMs;
    while (ring.start < ring.end && ring.tsAt(ring.start) <= cutoff) {
      const slot = ring.slot(ring.start);
      if (ring.tag[slot]! !== NO_INTEGER_KEY) {
        this.tableDelete(slot);
      } else if (ring.refs !== null) {
        const key = ring.refs[slot]!;
        if (key !== null) this.keys.delete(key);
      }
      ring.shift();
    }
  }

  /**
   * Adds a trade at time `ts` for a window already advanced to clock `t`
   * (`t − W < ts ≤ t`). Its dedup key is `provider` (interned, ≥ 0) with the
   * integer `id`, else the string `key`, else none.
   */
  add(ts: number, price: number, size: number, key: string | null, t: number, provider = NO_INTEGER_KEY, id = 0): void {
    const ring = this.ring;
    const pos = ring.insertionPoint(ts);
    const integerKey = provider >= 0;
    const grows = ring.full;
    const slot = ring.insert(pos, ts, price, size, integerKey ? id : 0, integerKey ? provider : NO_INTEGER_KEY, integerKey ? null : key);
    if (grows) this.rebuildTable();
    else if (integerKey) this.tableInsert(slot);
    if (integerKey) this.noteMaxId(provider, id);
    if (!integerKey && key !== null) this.keys.add(key);
    const end = ring.end;
    for (let i = 0; i < this.suffixes.length; i++) {
      const sfx = this.suffixes[i]!;
      if (ts <= t - sfx.horizonMs) {
        sfx.first++; // placed before the suffix: the suffix's records moved up by one
        continue;
      }
      sfx.addTrade(price, size);
      const hasPrev = pos - 1 >= sfx.first;
      const hasNext = pos + 1 < end;
      const prevPrice = hasPrev ? ring.priceAt(pos - 1) : 0;
      const nextPrice = hasNext ? ring.priceAt(pos + 1) : 0;
      if (hasPrev && hasNext) sfx.removeReturn(logReturn(prevPrice, nextPrice));
      if (hasPrev) sfx.addReturn(logReturn(prevPrice, price));
      if (hasNext) sfx.addReturn(logReturn(price, nextPrice));
      if (++sfx.opsSinceRebuild > 1024 + 8 * sfx.count) this.rebuild(sfx);
    }
  }

  private noteMaxId(provider: number, id: number): void {
    let maxIds = this.maxIds;
    if (provider >= maxIds.length) {
      const grown = new Float64Array(Math.max(4, provider + 1)).fill(-1);
      grown.set(maxIds);
      this.maxIds = maxIds = grown;
    }
    if (id > maxIds[provider]!) maxIds[provider] = id;
  }

  /** The slot of the trade with this integer key, or -1. */
  private findSlot(provider: number, id: number): number {
    if (this.integerKeys === 0) return -1;
    const table = this.table;
    const mask = this.tableMask;
    const ids = this.ring.id;
    const tags = this.ring.tag;
    for (let i = keyHash(provider, id) & mask; ; i = (i + 1) & mask) {
      const e = table[i]!;
      if (e === 0) return -1;
      const s = e - 1;
      if (ids[s] === id && tags[s] === provider) return s;
    }
  }

  private tableInsert(slot: number): void {
    const table = this.table;
    const mask = this.tableMask;
    let i = keyHash(this.ring.tag[slot]!, this.ring.id[slot]!) & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = slot + 1;
    this.integerKeys++;
  }

  /** Removes `slot` (still holding its trade) with backward-shift deletion: no tombstones. */
  private tableDelete(slot: number): void {
    const table = this.table;
    const mask = this.tableMask;
    const ids = this.ring.id;
    const tags = this.ring.tag;
    let hole = keyHash(tags[slot]!, ids[slot]!) & mask;
    while (table[hole] !== slot + 1) hole = (hole + 1) & mask;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const e = table[j]!;
      if (e === 0) break;
      const home = keyHash(tags[e - 1]!, ids[e - 1]!) & mask;
      // the entry at j may fill the hole unless its home lies cyclically in (hole, j]
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      table[hole] = e;
      hole = j;
    }
    table[hole] = 0;
    this.integerKeys--;
  }

  /** Re-indexes every integer key, after the records grew (and their slots moved). */
  private rebuildTable(): void {
    const ring = this.ring;
    const size = ring.capacity * 2;
    if (this.table.length !== size) {
      this.table = new Int32Array(size);
      this.tableMask = size - 1;
    } else {
      this.table.fill(0);
    }
    this.integerKeys = 0;
    const tags = ring.tag;
    for (let p = ring.start; p < ring.end; p++) {
      const s = ring.slot(p);
      if (tags[s]! !== NO_INTEGER_KEY) this.tableInsert(s);
    }
  }

  /**
   * Recomputes a suffix's sums from its records, bounding floating-point drift;
   * the returns are re-centred on their mean. Amortised O(1): it runs after
   * O(n) updates, or when cancellation shows (the mean moved far from the
   * shift, which takes many updates to happen again).
   */
  private rebuild(sfx: SuffixStats): void {
    const ring = this.ring;
    let meanReturn = 0;
    if (ring.end - sfx.first >= 2) {
      let sum = 0;
      for (let p = sfx.first + 1; p < ring.end; p++) sum += logReturn(ring.priceAt(p - 1), ring.priceAt(p));
      meanReturn = sum / (ring.end - sfx.first - 1);
    }
    sfx.reset();
    sfx.restartReturns(meanReturn);
    let prev = 0;
    for (let p = sfx.first; p < ring.end; p++) {
      const price = ring.priceAt(p);
      sfx.addTrade(price, ring.sizeAt(p));
      if (p > sfx.first) sfx.addReturn(logReturn(prev, price));
      prev = price;
    }
  }

  /** Sample standard deviation (n − 1) of a suffix's log returns; null with fewer than 2. */
  stdevReturns(sfx: SuffixStats): number | null {
    let v = sfx.varianceOfReturns();
    if (v !== null && v.unreliable) {
      this.rebuild(sfx);
      v = sfx.varianceOfReturns();
    }
    return v === null ? null : Math.sqrt(v.variance);
  }

  /** Price of the last trade in `(ts, arrival)` order, or null. */
  lastPrice(): number | null {
    const ring = this.ring;
    return ring.end > ring.start ? ring.priceAt(ring.end - 1) : null;
  }

  /** Price of the last trade with `ts ≤ t − 10 s` still in the window, or null. */
  referencePrice(): number | null {
    const p = this.short.first - 1;
    return p >= this.ring.start ? this.ring.priceAt(p) : null;
  }
}
