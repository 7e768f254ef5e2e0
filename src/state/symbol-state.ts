import type { BookEvent, QuoteEvent, TradeEvent } from '../domain/events.js';
import { LatencyWindow } from './latency-window.js';
import { TradeIdGapTracker } from './gap-tracker.js';
import { TradeWindow } from './trade-window.js';

/** The latest event of one kind with the receive time it is reported with. */
export interface Latest<E> {
  readonly event: E;
  /** Live: local receive time; offline: the event's own `ts_recv`. */
  readonly recvMs: number | null;
}

/** Everything kept for one symbol (SPEC §3). */
export class SymbolState {
  /** The symbol clock `t`: the largest event time seen. */
  clock = Number.NEGATIVE_INFINITY;
  readonly trades: TradeWindow;
  readonly latency: LatencyWindow;
  readonly gaps = new TradeIdGapTracker();
  lastTrade: Latest<TradeEvent> | null = null;
  lastQuote: Latest<QuoteEvent> | null = null;
  lastBook: Latest<BookEvent> | null = null;
  /** Best bid/ask from the most recently arrived quote or book. */
  bestBid: number | null = null;
  bestAsk: number | null = null;
  /** Symbol clock at the last emitted signal, per direction. */
  lastLongAt = Number.NEGATIVE_INFINITY;
  lastShortAt = Number.NEGATIVE_INFINITY;
  /** Accepted events so far; a cheap change marker for publishers. */
  version = 0;

  constructor(
    readonly symbol: string,
    windowMs: number,
  ) {
    this.trades = new TradeWindow(windowMs);
    this.latency = new LatencyWindow(windowMs);
  }

  /** Moves the clock forward to `ts` when it is newer, evicting what leaves the window. */
  advanceTo(ts: number): void {
    if (ts <= this.clock) return;
    this.clock = ts;
    this.trades.advance(ts);
    this.latency.advance(ts);
  }
}
