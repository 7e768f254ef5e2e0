import type { FeatureSnapshot } from '../domain/features.js';

/** The dashboard's memory of recent output: bounded rings and the chart history a reloaded page starts from. */

/** Chart history kept for a reload: one sample per second per symbol over this span. */
const HISTORY_SPAN_S = 300;
/** Symbols with kept chart history; more would cost ~7 KiB each and cannot be read on one chart anyway. */
const HISTORY_MAX_SYMBOLS = 64;

/** One chart sample: server epoch ms, mid, 60 s VWAP. */
export type HistoryPoint = [number, number | null, number | null];

/** A fixed-capacity ring keeping the newest items; the oldest is overwritten when full. */
export class RecentRing<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** Oldest first, and empties the ring. */
  drain(): T[] {
    const out = this.toArray();
    this.items.fill(undefined);
    this.count = 0;
    return out;
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.items[(this.next - this.count + i + this.capacity) % this.capacity]!);
    return out;
  }
}

/**
 * Per-symbol mid and VWAP, one sample per wall-clock second over the last
 * {@link HISTORY_SPAN_S} seconds, so a reloaded page starts with a full chart.
 * Typed-array rings: O(1) per published features object, fixed memory.
 */
export class PriceHistory {
  private readonly series = new Map<string, { buf: Float64Array; next: number; count: number }>();

  has(symbol: string): boolean {
    return this.series.has(symbol);
  }

  /** Whether a symbol not kept yet would be refused: every series is taken. */
  get full(): boolean {
    return this.series.size >= HISTORY_MAX_SYMBOLS;
  }

  /** Forgets a symbol's series (the engine forgot the symbol). */
  delete(symbol: string): void {
    this.series.delete(symbol);
  }

  /** Frees the series of symbols with no sample in the span (nothing left to draw), so symbols seen later get a chart. */
  pruneSilent(nowMs: number): void {
    const since = nowMs - HISTORY_SPAN_S * 1000;
    for (const [symbol, s] of this.series) {
      const newest = s.count > 0 ? s.buf[((s.next - 1 + HISTORY_SPAN_S) % HISTORY_SPAN_S) * 3]! : Number.NEGATIVE_INFINITY;
      if (newest < since) this.series.delete(symbol);
    }
  }

  record(f: FeatureSnapshot, nowMs: number): void {
    let s = this.series.get(f.symbol);
    if (s === undefined) {
      if (this.series.size >= HISTORY_MAX_SYMBOLS) return;
      s = { buf: new Float64Array(HISTORY_SPAN_S * 3), next: 0, count: 0 };
      this.series.set(f.symbol, s);
    }
    // features arrive at up to 10 Hz: the last one inside a second stands for it
    const lastIdx = (s.next - 1 + HISTORY_SPAN_S) % HISTORY_SPAN_S;
    const sameSecond = s.count > 0 && Math.floor(s.buf[lastIdx * 3]! / 1000) === Math.floor(nowMs / 1000);
    const idx = sameSecond ? lastIdx : s.next;
    s.buf[idx * 3] = nowMs;
    s.buf[idx * 3 + 1] = f.mid ?? Number.NaN;
    s.buf[idx * 3 + 2] = f.trade_vwap_60s ?? Number.NaN;
    if (!sameSecond) {
      s.next = (s.next + 1) % HISTORY_SPAN_S;
      if (s.count < HISTORY_SPAN_S) s.count++;
    }
  }

  /** The series with samples in the span. */
  toObject(nowMs: number): Record<string, HistoryPoint[]> {
    const out: Record<string, HistoryPoint[]> = {};
    const since = nowMs - HISTORY_SPAN_S * 1000;
    const num = (x: number) => (Number.isNaN(x) ? null : x);
    for (const [symbol, s] of this.series) {
      const points: HistoryPoint[] = [];
      for (let i = 0; i < s.count; i++) {
        const idx = (s.next - s.count + i + HISTORY_SPAN_S) % HISTORY_SPAN_S;
        const t = s.buf[idx * 3]!;
        if (t >= since) points.push([t, num(s.buf[idx * 3 + 1]!), num(s.buf[idx * 3 + 2]!)]);
      }
      if (points.length > 0) out[symbol] = points;
    }
    return out;
  }
}
