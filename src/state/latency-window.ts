import { TimeRing } from './time-ring.js';

/**
 * Latency samples (`recv − ts_exchange`, ms) of one symbol with `ts` in
 * `(t − W, t]`, with exact nearest-rank percentiles.
 *
 * The samples live in a time ring (needed for eviction anyway). A percentile
 * needs only the values near its rank, so each asked percentile keeps a
 * *band*: the count of samples below a low cut and, sorted, the samples
 * between the low and the high cut. A new or evicted sample outside the band
 * costs a comparison; one inside it a small sorted insert or delete. When the
 * wanted rank leaves the band (the distribution moved), the band is rebuilt
 * around it from the ring by selection, O(n). A band spans about 2√n ranks:
 * the rank drifts like a random walk, so a stationary stream leaves it after
 * ~n events, and a rebuild every ~n events costs about what moving the band's
 * values on each insert into it does. Measured with `bench/tools/ab-engine.mjs`
 * (summed time, windows filled from empty as in the service): √n either side
 * beat √n/4 by ~9 %, √n/2 by ~16 %, and 1.5√n, 2√n, 4√n by 2–6 % (DECISIONS 99).
 * A band's cuts hold a range of values, so a band built while the window was
 * small grows with it, and is rebuilt once it holds four times what it did
 * ({@link Band.oversized}). Small windows keep one band with every sample,
 * which serves every percentile.
 */

/** Up to this many samples, one band holds them all. */
const ALL_IN_ONE_BAND = 1024;

class Band {
  /** The band holds every sample v with lowCut ≤ v ≤ highCut, sorted. */
  lowCut = Number.NEGATIVE_INFINITY;
  highCut = Number.POSITIVE_INFINITY;
  /** Samples below lowCut. */
  below = 0;
  values = new Float64Array(64);
  size = 0;
  /** `size` just after the last rebuild. */
  builtSize = 0;

  constructor(readonly p: number) {}

  get holdsAll(): boolean {
    return this.lowCut === Number.NEGATIVE_INFINITY && this.highCut === Number.POSITIVE_INFINITY;
  }

  add(v: number): void {
    if (v < this.lowCut) {
      this.below++;
      return;
    }
    if (v > this.highCut) return;
    const n = this.size;
    let a = this.values;
    if (n === a.length) {
      const grown = new Float64Array(n * 2);
      grown.set(a);
      this.values = a = grown;
    }
    const at = upperBound(a, n, v);
    if (at < n) a.copyWithin(at + 1, at, n);
    a[at] = v;
    this.size = n + 1;
  }

  delete(v: number): void {
    if (v < this.lowCut) {
      this.below--;
      return;
    }
    if (v > this.highCut) return;
    const a = this.values;
    const n = this.size;
    const at = lowerBound(a, n, v);
    // every sample inside the cuts is in the band, so v is found
    if (at + 1 < n) a.copyWithin(at, at + 1, n);
    this.size = n - 1;
  }

  /** The k-th smallest sample when the band holds that rank, else undefined. */
  kth(k: number): number | undefined {
    const i = k - this.below - 1;
    return i >= 0 && i < this.size ? this.values[i] : undefined;
  }

  /** Refills the band from the n samples in `scratch` (any order; reordered) around rank k. */
  rebuild(scratch: Float64Array, n: number, k: number, all: boolean): void {
    let lo = 0;
    let hi = n - 1;
    if (!all) {
      const half = halfSpan(n);
      lo = Math.max(0, k - 1 - half);
      hi = Math.min(n - 1, k - 1 + half);
    }
    this.lowCut = lo === 0 ? Number.NEGATIVE_INFINITY : select(scratch, 0, n - 1, lo);
    this.highCut = hi === n - 1 ? Number.POSITIVE_INFINITY : select(scratch, lo, n - 1, hi);
    let below = 0;
    let size = 0;
    for (let i = 0; i < n; i++) {
      const v = scratch[i]!;
      if (v < this.lowCut) below++;
      else if (v <= this.highCut) size++;
    }
    let values = this.values;
    if (values.length < size || values.length > 4 * size + 64) values = new Float64Array(Math.max(64, size * 2));
    let j = 0;
    for (let i = 0; i < n; i++) {
      const v = scratch[i]!;
      if (v >= this.lowCut && v <= this.highCut) values[j++] = v;
    }
    values.subarray(0, size).sort();
    this.values = values;
    this.size = size;
    this.builtSize = size;
    this.below = below;
  }

  /**
   * Whether the band, in a window of n samples, has outgrown its purpose: its cuts hold a fixed range of
   * values, so as the window fills, the samples between them grow with it (a
   * band cut at 2,000 samples held 3 % of every sample once the window held
   * 150,000, and every sample landing in it moved thousands of values). Four
   * times its size when built and four times today's span: ties at the cuts
   * (quantised latencies) make a band large from the start and must not
   * rebuild it on every query.
   */
  oversized(n: number): boolean {
    return !this.holdsAll && this.size > 4 * this.builtSize && this.size > 8 * halfSpan(n) + 4;
  }
}

/** Ranks a band keeps either side of its percentile's, for n samples. */
function halfSpan(n: number): number {
  return Math.max(32, Math.ceil(Math.sqrt(n)));
}

/** Scratch space for rebuilds, shared: the engine is single-threaded. */
let scratch = new Float64Array(1024);

export class LatencyWindow {
  private readonly ring = new TimeRing();
  /** Bands by asked percentile; or one band holding every sample (small windows). */
  private bands: Band[] = [];
  /** Band rebuilds so far (each O(n)): the tests hold it to its amortised bound. */
  rebuilds = 0;

  constructor(readonly windowMs: number) {}

  get size(): number {
    return this.ring.length;
  }

  /** Evicts samples with `ts ≤ t − W`. */
  advance(t: number): void {
    const ring = this.ring;
    const cutoff = t - this.windowMs;
    const bands = this.bands;
    while (ring.start < ring.end && ring.tsAt(ring.start) <= cutoff) {
      const v = ring.valueAt(ring.start);
      for (let i = 0; i < bands.length; i++) bands[i]!.delete(v);
      ring.shift();
    }
  }

  add(ts: number, latencyMs: number): void {
    const ring = this.ring;
    ring.insert(ring.insertionPoint(ts), ts, latencyMs);
    const bands = this.bands;
    for (let i = 0; i < bands.length; i++) bands[i]!.add(latencyMs);
  }

  /** The ⌈p·n⌉-th smallest sample, or null when there are none. */
  percentile(p: number): number | null {
    const n = this.ring.length;
    if (n === 0) return null;
    const k = Math.max(1, Math.ceil(p * n));
    const bands = this.bands;
    let band: Band | undefined;
    if (bands.length === 1 && bands[0]!.holdsAll) {
      if (n <= 2 * ALL_IN_ONE_BAND) band = bands[0]!;
      else this.bands = [];
    } else if (n <= ALL_IN_ONE_BAND / 2) {
      this.bands = []; // shrunk: back to one band with everything
    }
    if (band === undefined) {
      for (let i = 0; i < this.bands.length; i++) if (this.bands[i]!.p === p) band = this.bands[i]!;
    }
    if (band !== undefined) {
      const v = band.kth(k);
      if (v !== undefined && !band.oversized(n)) return v;
    } else {
      band = new Band(p);
      this.bands.push(band);
    }
    this.rebuilds++;
    band.rebuild(this.samples(), n, k, n <= ALL_IN_ONE_BAND);
    if (band.holdsAll) this.bands = [band];
    return band.kth(k)!;
  }

  /** Every sample, copied into the shared scratch space. */
  private samples(): Float64Array {
    const ring = this.ring;
    const n = ring.length;
    if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
    for (let i = 0, p = ring.start; p < ring.end; i++, p++) scratch[i] = ring.valueAt(p);
    return scratch;
  }
}

/**
 * Rearranges a[lo..hi] so that a[k] is the value of rank k (0-based over the
 * whole array) with nothing larger before it and nothing smaller after it,
 * and returns it (Hoare's selection, median-of-three pivots).
 */
function select(a: Float64Array, lo: number, hi: number, k: number): number {
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three as pivot
    let x = a[lo]!;
    let y = a[mid]!;
    let z = a[hi]!;
    if (x > y) [x, y] = [y, x];
    if (y > z) [y, z] = [z, y];
    if (x > y) [x, y] = [y, x];
    const pivot = y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

/** First index i < n with a[i] >= v, or n. */
function lowerBound(a: Float64Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i < n with a[i] > v, or n. */
function upperBound(a: Float64Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
