import { CompensatedSum } from './compensated-sum.js';
import { TimeRing } from './time-ring.js';

const PRICE = 0;
const SIZE = 1;

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
 * The trades of one symbol with `ts` in `(t − W, t]`, in `(ts, arrival)` order,
 * with the 10 s and 60 s aggregates kept incrementally (O(1) amortised per
 * trade) and the `(provider, trade_id)` keys for duplicate detection.
 */
export class TradeWindow {
  readonly ring = new TimeRing(2, true);
  /** Dedup keys of the trades inside the window. */
  readonly keys = new Set<string>();
  /** Trades in `(t − min(10 s, W), t]`. */
  readonly short: SuffixStats;
  /** Trades in `(t − min(60 s, W), t]`. */
  readonly long: SuffixStats;
  private readonly suffixes: SuffixStats[];

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

  /** Moves the window to clock `t`: suffix boundaries first, then eviction of `ts ≤ t − W`. */
  advance(t: number): void {
    const ring = this.ring;
    for (let i = 0; i < this.suffixes.length; i++) {
      const sfx = this.suffixes[i]!;
      const cutoff = t - sfx.horizonMs;
      let p = sfx.first;
      while (p < ring.end && ring.tsAt(p) <= cutoff) {
        const price = ring.col(PRICE, p);
        sfx.removeTrade(price, ring.col(SIZE, p));
        if (p + 1 < ring.end) sfx.removeReturn(logReturn(price, ring.col(PRICE, p + 1)));
        sfx.opsSinceRebuild++;
        p++;
      }
      sfx.first = p;
      if (sfx.count === 0) sfx.reset(); // an empty suffix sums to exactly zero
    }
    const cutoff = t - this.windowMs;
    while (ring.start < ring.end && ring.tsAt(ring.start) <= cutoff) {
      const key = ring.ref(ring.start);
      if (key !== null) this.keys.delete(key);
      ring.shift();
    }
  }

  /**
   * Adds a trade at time `ts` for a window already advanced to clock `t`
   * (`t − W < ts ≤ t`). `key` is its dedup key, or null.
   */
  add(ts: number, price: number, size: number, key: string | null, t: number): void {
    const ring = this.ring;
    const pos = ring.insertionPoint(ts);
    ring.insert(pos, ts, price, size, key);
    if (key !== null) this.keys.add(key);
    for (let i = 0; i < this.suffixes.length; i++) {
      const sfx = this.suffixes[i]!;
      if (ts <= t - sfx.horizonMs) {
        sfx.first++; // placed before the suffix: the suffix's records moved up by one
        continue;
      }
      sfx.addTrade(price, size);
      const hasPrev = pos - 1 >= sfx.first;
      const hasNext = pos + 1 < ring.end;
      const prevPrice = hasPrev ? ring.col(PRICE, pos - 1) : 0;
      const nextPrice = hasNext ? ring.col(PRICE, pos + 1) : 0;
      if (hasPrev && hasNext) sfx.removeReturn(logReturn(prevPrice, nextPrice));
      if (hasPrev) sfx.addReturn(logReturn(prevPrice, price));
      if (hasNext) sfx.addReturn(logReturn(price, nextPrice));
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
      for (let p = sfx.first + 1; p < ring.end; p++) sum += logReturn(ring.col(PRICE, p - 1), ring.col(PRICE, p));
      meanReturn = sum / (ring.end - sfx.first - 1);
    }
    sfx.reset();
    sfx.restartReturns(meanReturn);
    let prev = 0;
    for (let p = sfx.first; p < ring.end; p++) {
      const price = ring.col(PRICE, p);
      sfx.addTrade(price, ring.col(SIZE, p));
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
    return ring.end > ring.start ? ring.col(PRICE, ring.end - 1) : null;
  }

  /** Price of the last trade with `ts ≤ t − 10 s` still in the window, or null. */
  referencePrice(): number | null {
    const p = this.short.first - 1;
    return p >= this.ring.start ? this.ring.col(PRICE, p) : null;
  }
}
