import { CompensatedSum } from './compensated-sum.js';
import { DedupIndex } from './dedup-index.js';
import type { TradeRecord } from './trade-records.js';
import { TradeRecords } from './trade-records.js';

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

  /** Sample variance (n − 1) of the log returns from the shifted sums; null with fewer than 2 returns. */
  varianceOfReturns(): number | null {
    const n = this.returns;
    if (n < 2) return null;
    const s = this.sumR.value;
    return Math.max(0, (this.sumR2.value - s * (s / n)) / (n - 1));
  }

  /**
   * Whether cancellation may have eaten the digits of `variance` (from
   * {@link varianceOfReturns}): its relative error is about ε·m²/v for m the
   * mean shifted return, so the sums are re-centred when m² exceeds 10⁶·v (an
   * already centred shift, |m| ≤ 1e-15, costs nothing that matters).
   */
  varianceUnreliable(variance: number): boolean {
    const m = this.sumR.value / this.returns;
    return Math.abs(m) > 1e-15 && m * m > 1e6 * variance;
  }
}

/**
 * Log return between two consecutive trades. Consecutive trades often share a
 * price (40 % of the simulator's, more on a busy pair's level): their return is
 * exactly `Math.log(1)`, +0, without the call.
 */
function logReturn(from: number, to: number): number {
  return from === to ? 0 : Math.log(to / from);
}

/**
 * The trades of one symbol with `ts` in `(t − W, t]`, in `(ts, arrival)` order,
 * with the 10 s and 60 s aggregates kept incrementally (O(1) amortised per
 * trade) and their `(provider, trade_id)` keys indexed for duplicate
 * detection ({@link DedupIndex}).
 */
export class TradeWindow {
  readonly ring = new TradeRecords();
  readonly dedup = new DedupIndex(this.ring);
  /** Trades in `(t − min(10 s, W), t]`. */
  readonly last10s: SuffixStats;
  /** Trades in `(t − min(60 s, W), t]`. */
  readonly last60s: SuffixStats;
  private readonly suffixes: SuffixStats[];

  constructor(
    readonly windowMs: number,
    shortMs = 10_000,
    longMs = 60_000,
  ) {
    this.last10s = new SuffixStats(Math.min(shortMs, windowMs));
    this.last60s = new SuffixStats(Math.min(longMs, windowMs));
    this.suffixes = [this.last10s, this.last60s];
  }

  get size(): number {
    return this.ring.length;
  }

  /**
   * Whether the window holds a trade with this key: `provider` (an interned
   * index, ≥ 0) with the integer `id`, else the string `key` (null: no key).
   */
  contains(provider: number, id: number, key: string | null): boolean {
    return this.dedup.contains(provider, id, key);
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
      this.dedup.remove(ring.slot(ring.start));
      ring.shift();
    }
  }

  /**
   * Adds a trade for a window already advanced to clock `t`
   * (`t − W < trade.ts ≤ t`), with its dedup key.
   */
  add(trade: TradeRecord, t: number): void {
    const ring = this.ring;
    const ts = trade.ts;
    const price = trade.price;
    const size = trade.size;
    const pos = ring.insertionPoint(ts);
    const grows = ring.full;
    const slot = ring.insert(pos, trade);
    this.dedup.add(slot, trade.key, grows);
    const end = ring.end;
    const hasNext = pos + 1 < end;
    // the returns around the new trade are the same for every suffix that holds its neighbours: each log once
    let fromPrev = Number.NaN;
    let toNext = Number.NaN;
    let bridged = Number.NaN;
    for (let i = 0; i < this.suffixes.length; i++) {
      const sfx = this.suffixes[i]!;
      if (ts <= t - sfx.horizonMs) {
        sfx.first++; // placed before the suffix: the suffix's records moved up by one
        continue;
      }
      sfx.addTrade(price, size);
      const hasPrev = pos - 1 >= sfx.first;
      if (hasPrev && Number.isNaN(fromPrev)) fromPrev = logReturn(ring.priceAt(pos - 1), price);
      if (hasNext && Number.isNaN(toNext)) toNext = logReturn(price, ring.priceAt(pos + 1));
      if (hasPrev && hasNext) {
        if (Number.isNaN(bridged)) bridged = logReturn(ring.priceAt(pos - 1), ring.priceAt(pos + 1));
        sfx.removeReturn(bridged);
      }
      if (hasPrev) sfx.addReturn(fromPrev);
      if (hasNext) sfx.addReturn(toNext);
      if (++sfx.opsSinceRebuild > 1024 + 8 * sfx.count) this.rebuild(sfx);
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
    if (v !== null && sfx.varianceUnreliable(v)) {
      this.rebuild(sfx);
      v = sfx.varianceOfReturns();
    }
    return v === null ? null : Math.sqrt(v);
  }

  /** Price of the last trade in `(ts, arrival)` order, or null. */
  lastPrice(): number | null {
    const ring = this.ring;
    return ring.end > ring.start ? ring.priceAt(ring.end - 1) : null;
  }

  /** Price of the last trade with `ts ≤ t − 10 s` still in the window, or null. */
  referencePrice(): number | null {
    const p = this.last10s.first - 1;
    return p >= this.ring.start ? this.ring.priceAt(p) : null;
  }
}
