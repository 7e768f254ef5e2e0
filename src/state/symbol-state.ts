import type { BookEvent, QuoteEvent, TradeEvent } from '../domain/events.js';
import { LatencyWindow } from './latency-window.js';
import { TradeIdGapTracker } from './gap-tracker.js';
import { TradeWindow } from './trade-window.js';

/** The latest event of one kind with the receive time it is reported with. */
export interface Latest<E> {
  readonly event: E;
  /** Live: local receive time; offline: the event's own `ts_recv`. */
  readonly recvMs: number | null;
  /** Its event time (SPEC §3). */
  readonly ts: number;
  /** Its arrival order among all accepted events, to break ties in event time. */
  readonly seq: number;
}

/**
 * The time from which the engine has seen every event (SPEC §11), shared by
 * every symbol of one engine; NaN until known.
 */
export interface Coverage {
  start: number;
}

/** Whether `a` is newer than `b` by event time, ties going to the later arrival. */
function newer(a: Latest<unknown>, b: Latest<unknown>): boolean {
  return a.ts > b.ts || (a.ts === b.ts && a.seq > b.seq);
}

/** Everything kept for one symbol (SPEC §3). */
export class SymbolState {
  /** The symbol clock `t`: the largest event time seen. */
  clock = Number.NEGATIVE_INFINITY;
  readonly trades: TradeWindow;
  readonly latency: LatencyWindow;
  readonly gaps = new TradeIdGapTracker();
  /** Last trade by arrival. */
  lastTrade: Latest<TradeEvent> | null = null;
  /** Quote and book with the greatest event time (ties: the later arrival). */
  lastQuote: Latest<QuoteEvent> | null = null;
  lastBook: Latest<BookEvent> | null = null;
  /** Best bid/ask from whichever of the latest quote and book is newer. */
  bestBid: number | null = null;
  bestAsk: number | null = null;
  /** Accepted events so far; a cheap change marker for publishers. */
  version = 0;
  /** Live: wall-clock ms of the last accepted event, for idle eviction. */
  lastAcceptedWallMs = 0;
  /**
   * This symbol's own lower bound on coverage (SPEC §11): after a
   * `symbol_limit` refusal of it, or when it comes back after eviction.
   */
  coverageFloor = Number.NEGATIVE_INFINITY;
  /**
   * Symbol clock of the last long and short signal, for the cooldown of SPEC §4
   * (`RuleEngine`): kept here so they go with the symbol's state when it is
   * evicted or forgotten, and cost no lookup.
   */
  lastLongSignalTs = Number.NEGATIVE_INFINITY;
  lastShortSignalTs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly symbol: string,
    private readonly windowMs: number,
    private readonly coverage: Coverage = { start: Number.NEGATIVE_INFINITY },
  ) {
    this.trades = new TradeWindow(windowMs);
    this.latency = new LatencyWindow(windowMs);
  }

  /** Whether the whole window behind the features was observed: `t − W ≥ coverage_start` (SPEC §11). */
  get warm(): boolean {
    // Math.max keeps NaN: never warm while the start is unknown
    return this.clock - this.windowMs >= Math.max(this.coverage.start, this.coverageFloor);
  }

  /** Moves the clock forward to `ts` when it is newer, evicting what leaves the window. */
  advanceTo(ts: number): void {
    if (ts <= this.clock) return;
    this.clock = ts;
    this.trades.advance(ts);
    this.latency.advance(ts);
  }

  /** Keeps a quote if it is the newest by event time; never lets an older one replace the best bid/ask. */
  offerQuote(q: Latest<QuoteEvent>): void {
    if (this.lastQuote !== null && !newer(q, this.lastQuote)) return;
    this.lastQuote = q;
    if (this.lastBook === null || newer(q, this.lastBook)) {
      this.bestBid = q.event.bid;
      this.bestAsk = q.event.ask;
    }
  }

  /** Keeps a book if it is the newest by event time; the best bid/ask follow the newer of quote and book. */
  offerBook(b: Latest<BookEvent>): void {
    if (this.lastBook !== null && !newer(b, this.lastBook)) return;
    this.lastBook = b;
    if (this.lastQuote === null || newer(b, this.lastQuote)) {
      this.bestBid = b.event.bids[0]![0];
      this.bestAsk = b.event.asks[0]![0];
    }
  }
}
