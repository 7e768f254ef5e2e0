/**
 * The normalised market-data events (SPEC §2) and the reasons an input can be
 * rejected. Imports nothing: every other layer depends on this one.
 */

/**
 * The one table of input event types (SPEC §2): each type with the words that
 * name it in a payload's `type` or a subject's third token (any case). The
 * decoder, the metric labels and the engine all derive from it; a new type
 * starts here.
 */
export const EVENT_TYPE_TABLE = {
  trade: ['trade'],
  quote: ['quote'],
  book_l2: ['book_l2', 'book', 'l2', 'orderbook'],
  heartbeat: ['heartbeat'],
} as const satisfies Record<string, readonly string[]>;

export type EventType = keyof typeof EVENT_TYPE_TABLE;
/** The event types in table order. */
export const EVENT_TYPES = Object.keys(EVENT_TYPE_TABLE) as EventType[];
/** A type label for metrics: an event type, or `unknown` when it could not be told. */
export type EventTypeLabel = EventType | 'unknown';
/** Every `type` label value, `unknown` last: index = label index. */
export const EVENT_TYPE_LABELS: readonly EventTypeLabel[] = [...EVENT_TYPES, 'unknown'];

/** Every rejection reason of SPEC §2/§6: the `reason` label values. */
export const REJECT_REASONS = [
  'parse_error',
  'invalid',
  'duplicate',
  'late',
  'symbol_limit',
  'backpressure',
  'overflow',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type TradeSide = 'buy' | 'sell';

/**
 * Largest accepted price (trade, quote, book level) and trade size (SPEC §2):
 * far below where Σ price·size over a window could overflow a double.
 */
export const MAX_VALUE = 1e15;
/**
 * Smallest accepted price and trade size (a decision: SPEC §2 bounds them
 * above only, docs/DECISIONS.md 63). With both bounds every ratio of two
 * prices stays within 1e±30, so a log return or `return_10s` stays finite;
 * a positive price like 1e-320 against 100 overflows the ratio and would
 * turn `realized_vol_60s` into `null` for a whole window. Far below any
 * traded price or size (a satoshi is 1e-8).
 */
export const MIN_VALUE = 1e-15;

/** Whether a price or trade size is within [{@link MIN_VALUE}, {@link MAX_VALUE}] (false for NaN). */
export function inValueRange(x: number): boolean {
  return x >= MIN_VALUE && x <= MAX_VALUE;
}

/** A book level `[price, size]`. */
export type BookLevel = readonly [price: number, size: number];

interface EventBase {
  /** Lower-cased provider, `"unknown"` when absent. */
  readonly provider: string;
  /** Exchange timestamp in epoch ms (fractions kept), null when absent or unreadable. */
  readonly tsExchange: number | null;
  /** Upstream receive timestamp in epoch ms, null when absent or unreadable. */
  readonly tsRecv: number | null;
  /** Offline only: the recording envelope's `received_at` in epoch ms. */
  readonly envelopeRecvAt: number | null;
}

export interface TradeEvent extends EventBase {
  readonly type: 'trade';
  readonly symbol: string;
  readonly price: number;
  readonly size: number;
  readonly side: TradeSide | null;
  /** Exact digits as written in the payload; null when absent. */
  readonly tradeId: string | null;
}

export interface QuoteEvent extends EventBase {
  readonly type: 'quote';
  readonly symbol: string;
  readonly bid: number;
  readonly ask: number;
  readonly bidSize: number | null;
  readonly askSize: number | null;
}

export interface BookEvent extends EventBase {
  readonly type: 'book_l2';
  readonly symbol: string;
  /** Sorted by price, descending. */
  readonly bids: readonly BookLevel[];
  /** Sorted by price, ascending. */
  readonly asks: readonly BookLevel[];
}

export interface HeartbeatEvent extends EventBase {
  readonly type: 'heartbeat';
  readonly symbol: null;
}

/** One normalised input event, keyed by `type`. */
export type MarketEvent = TradeEvent | QuoteEvent | BookEvent | HeartbeatEvent;
export type SymbolEvent = TradeEvent | QuoteEvent | BookEvent;

/** Why an input was not turned into an event, with a human-readable detail. */
export interface Rejection {
  readonly kind: 'rejection';
  readonly reason: RejectReason;
  /** The event type when it could be told, for the `type` metric label. */
  readonly type: EventTypeLabel;
  readonly detail: string;
}

export function reject(reason: RejectReason, type: EventTypeLabel, detail: string): Rejection {
  return { kind: 'rejection', reason, type, detail };
}

export function isRejection<T extends object>(x: T | Rejection): x is Rejection {
  return (x as { kind?: unknown }).kind === 'rejection';
}
