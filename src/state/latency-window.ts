import { SortedMultiset } from './sorted-multiset.js';
import { TimeRing } from './time-ring.js';

/**
 * Latency samples (`recv − ts_exchange`, ms) of one symbol with `ts` in
 * `(t − W, t]`, with exact nearest-rank percentiles from a sorted multiset.
 */
export class LatencyWindow {
  private readonly ring = new TimeRing(1, false);
  private readonly values = new SortedMultiset();

  constructor(readonly windowMs: number) {}

  get size(): number {
    return this.ring.length;
  }

  /** Evicts samples with `ts ≤ t − W`. */
  advance(t: number): void {
    const ring = this.ring;
    const cutoff = t - this.windowMs;
    while (ring.start < ring.end && ring.tsAt(ring.start) <= cutoff) {
      this.values.delete(ring.col(0, ring.start));
      ring.shift();
    }
  }

  add(ts: number, latencyMs: number): void {
    const ring = this.ring;
    ring.insert(ring.insertionPoint(ts), ts, latencyMs, 0, null);
    this.values.add(latencyMs);
  }

  /** The ⌈p·n⌉-th smallest sample, or null when there are none. */
  percentile(p: number): number | null {
    return this.values.percentile(p);
  }
}
