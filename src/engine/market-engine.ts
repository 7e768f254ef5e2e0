import type { MarketEvent, Rejection } from '../domain/events.js';
import { reject } from '../domain/events.js';
import type { Signal } from '../domain/features.js';
import type { RuleConfig } from '../signals/rule-engine.js';
import { RuleEngine } from '../signals/rule-engine.js';
import { SymbolState } from '../state/symbol-state.js';

/** Engine settings: the window, limits and rules (SPEC §3/§4/§9). */
export interface EngineConfig {
  readonly windowMs: number;
  readonly maxSymbols: number;
  readonly maxFutureSkewMs: number;
  readonly rules: RuleConfig;
}

/**
 * `live`: receive time is the local clock and an event without timestamps takes
 * it; `offline` (compute): receive time is the envelope's `received_at`, else
 * the event's `ts_recv`, and an event without timestamps is invalid.
 */
export type EngineMode = 'live' | 'offline';

export interface Accepted {
  readonly kind: 'accepted';
  readonly event: MarketEvent;
  /** The symbol's state after the event; null for heartbeats. */
  readonly state: SymbolState | null;
  /** The signal this event raised, if any. */
  readonly signal: Signal | null;
  /** Trade ids skipped before this trade for its provider (0: none). */
  readonly gap: number;
}

export type IngestOutcome = Accepted | Rejection;

/** Providers get small integer indexes for compact dedup keys; past this many, string keys. */
const MAX_INTERNED_PROVIDERS = 4096;

/**
 * A trade id written as a plain decimal integer of at most 15 digits (no sign,
 * no leading zero), as a number; NaN for any other id. Such ids round-trip
 * exactly, so the number stands for the string as a dedup key.
 */
export function integerTradeId(tradeId: string): number {
  const n = tradeId.length;
  if (n === 0 || n > 15) return NaN;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = tradeId.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || (d === 0 && i === 0 && n > 1)) return NaN;
    v = v * 10 + d;
  }
  return v;
}

/**
 * The stateful core shared by the live service and `compute`: validates event
 * time, keeps per-symbol state and windows, and runs the rules. One event in,
 * one outcome out; no I/O.
 */
export class MarketEngine {
  readonly symbols = new Map<string, SymbolState>();
  private readonly rules: RuleEngine;
  private readonly providerIndexes = new Map<string, number>();

  constructor(
    readonly config: EngineConfig,
    readonly mode: EngineMode,
  ) {
    this.rules = new RuleEngine(config.rules);
  }

  /**
   * Applies one decoded event. `nowMs` is the local receive time (used in live
   * mode only).
   */
  ingest(ev: MarketEvent, nowMs: number): IngestOutcome {
    const live = this.mode === 'live';
    const recv = live ? nowMs : (ev.envelopeRecvAt ?? ev.tsRecv);
    const ts = ev.tsExchange ?? ev.tsRecv ?? (live ? nowMs : null);
    if (ts === null && ev.type !== 'heartbeat') return reject('invalid', ev.type, 'no usable timestamp');
    if (ev.tsExchange !== null && recv !== null && ev.tsExchange - recv > this.config.maxFutureSkewMs) {
      return reject('invalid', ev.type, `ts_exchange is ${Math.round(ev.tsExchange - recv)} ms after its receive time`);
    }
    if (ev.type === 'heartbeat') return { kind: 'accepted', event: ev, state: null, signal: null, gap: 0 };
    const t = ts!;

    let s = this.symbols.get(ev.symbol);
    if (s === undefined) {
      if (this.symbols.size >= this.config.maxSymbols) {
        return reject('symbol_limit', ev.type, `symbol ${ev.symbol} over the limit of ${this.config.maxSymbols} symbols`);
      }
      s = new SymbolState(ev.symbol, this.config.windowMs);
      this.symbols.set(ev.symbol, s);
    }
    if (t <= s.clock - this.config.windowMs) {
      return reject('late', ev.type, `event time ${t} is older than the ${this.config.windowMs} ms window`);
    }
    let gap = 0;
    const recvReported = live ? nowMs : ev.tsRecv;
    switch (ev.type) {
      case 'trade': {
        // dedup key: (interned provider, integer id) when it can be, else the string `provider\0trade_id`
        const tradeId = ev.tradeId;
        const id = tradeId === null ? NaN : integerTradeId(tradeId);
        const provider = Number.isNaN(id) ? -1 : this.providerIndex(ev.provider);
        const key = provider >= 0 || tradeId === null ? null : `${ev.provider}\u0000${tradeId}`;
        if (s.trades.contains(provider, id, key)) {
          return reject('duplicate', 'trade', `trade ${ev.tradeId} from ${ev.provider} is already in the window`);
        }
        s.advanceTo(t);
        s.trades.add(t, ev.price, ev.size, key, s.clock, provider, id);
        s.lastTrade = { event: ev, recvMs: recvReported };
        gap = Number.isNaN(id) ? s.gaps.observe(ev.provider, tradeId) : s.gaps.observeInteger(ev.provider, id);
        break;
      }
      case 'quote':
        s.advanceTo(t);
        s.lastQuote = { event: ev, recvMs: recvReported };
        s.bestBid = ev.bid;
        s.bestAsk = ev.ask;
        break;
      case 'book_l2':
        s.advanceTo(t);
        s.lastBook = { event: ev, recvMs: recvReported };
        s.bestBid = ev.bids[0]![0];
        s.bestAsk = ev.asks[0]![0];
        break;
    }
    if (ev.tsExchange !== null && recv !== null) s.latency.add(t, recv - ev.tsExchange);
    s.version++;
    return { kind: 'accepted', event: ev, state: s, signal: this.rules.evaluate(s), gap };
  }

  /** The provider's small integer index, or -1 once the intern table is full. */
  private providerIndex(provider: string): number {
    const idx = this.providerIndexes.get(provider);
    if (idx !== undefined) return idx;
    if (this.providerIndexes.size >= MAX_INTERNED_PROVIDERS) return -1;
    const next = this.providerIndexes.size;
    this.providerIndexes.set(provider, next);
    return next;
  }
}
