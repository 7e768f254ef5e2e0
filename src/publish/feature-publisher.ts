import type { FeatureSnapshot } from '../domain/features.js';
import { computeFeatures } from '../features/feature-engine.js';
import type { SymbolState } from '../state/symbol-state.js';

/**
 * Publishes each symbol's features at most `rateHz` times per second, keeping
 * the trailing edge (SPEC §5): the first change after a quiet interval goes
 * out at once, later changes inside the interval are coalesced and the newest
 * state is published when the interval ends. Features are computed only when
 * published, so a burst costs one computation per interval, not per event.
 */
export class ThrottledFeaturePublisher {
  private readonly intervalMs: number;
  private readonly lastPublished = new Map<string, number>();
  /** Symbols changed since their last publish, waiting for their interval to end. */
  private readonly pending = new Map<string, SymbolState>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    rateHz: number,
    private readonly publish: (f: FeatureSnapshot) => void,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.intervalMs = 1000 / rateHz;
  }

  /** Symbols whose trailing edge is still to be published. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Notes that a symbol's state changed. */
  touch(s: SymbolState): void {
    const now = this.clock();
    const last = this.lastPublished.get(s.symbol);
    if (last === undefined || now - last >= this.intervalMs) {
      this.pending.delete(s.symbol);
      this.emit(s, now);
      return;
    }
    if (!this.pending.has(s.symbol)) {
      this.pending.set(s.symbol, s);
      this.schedule(last + this.intervalMs - now);
    }
  }

  /** Publishes every pending trailing edge now (shutdown). */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const now = this.clock();
    for (const s of this.pending.values()) this.emit(s, now);
    this.pending.clear();
  }

  /** Drops what is kept for a forgotten symbol (idle eviction): nothing more is published for it. */
  forget(symbol: string): void {
    this.pending.delete(symbol);
    this.lastPublished.delete(symbol);
  }

  private emit(s: SymbolState, now: number): void {
    this.lastPublished.set(s.symbol, now);
    this.publish(computeFeatures(s));
  }

  private schedule(delayMs: number): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, Math.ceil(delayMs)));
  }

  private onTimer(): void {
    this.timer = null;
    const now = this.clock();
    let next = Number.POSITIVE_INFINITY;
    for (const [symbol, s] of this.pending) {
      const due = (this.lastPublished.get(symbol) ?? 0) + this.intervalMs;
      if (due <= now + 0.5) {
        this.pending.delete(symbol);
        this.emit(s, now);
      } else if (due < next) {
        next = due;
      }
    }
    if (this.pending.size > 0) this.schedule(next - now);
  }
}
