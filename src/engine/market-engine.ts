import type { MarketEvent, Rejection } from '../domain/events.js';
import { reject } from '../domain/events.js';
import type { Signal } from '../domain/features.js';
import type { RuleConfig } from '../signals/rule-engine.js';
import { RuleEngine } from '../signals/rule-engine.js';
import type { Coverage } from '../state/symbol-state.js';
import { SymbolState } from '../state/symbol-state.js';
import { emptyTradeRecord } from '../state/trade-records.js';
import { assertNever } from '../domain/assert-never.js';

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

/** Most symbols remembered for their own coverage floor (refused or evicted); the oldest go first. */
const MAX_REMEMBERED_FLOORS = 65_536;
/** A remembered floor meaning "from this symbol's next first event" (it was evicted). */
const FROM_FIRST_EVENT = Number.POSITIVE_INFINITY;

/**
 * The stateful core shared by the live service and `compute`: validates event
 * time, keeps per-symbol state and windows, and runs the rules. One event in,
 * one outcome out; no I/O.
 */
export class MarketEngine {
  readonly symbols = new Map<string, SymbolState>();
  /** Symbols added or forgotten so far: a list of them is current while this has not moved. */
  symbolChanges = 0;
  /** `coverage_start` of SPEC §11, shared by every symbol; NaN until the first event with a time. */
  readonly coverage: Coverage = { start: Number.NaN };
  private readonly rules: RuleEngine;
  private readonly providerIndexes = new Map<string, number>();
  /** Arrival order of accepted events, to break ties in event time. */
  private arrivals = 0;
  /** Offline: the largest receive time of the events accepted so far (the future guard's last resort). */
  private maxRecvMs = Number.NaN;
  /** Live: the next accepted event's time moves `coverage_start` (events may have been lost before it). */
  private coverageFromNextEvent = false;
  /** The one trade record filled per trade (no allocation per event). */
  private readonly tradeRecord = emptyTradeRecord();
  /** Per-symbol coverage floors of symbols without state: refused at the limit, or evicted. */
  private readonly floors = new Map<string, number>();
  /**
   * Cluster mode (SPEC §12): a new symbol's own coverage floor, from the
   * warm-up of the partition it belongs to (partitions are taken over at
   * different times, so one global coverage start cannot serve them all).
   */
  coverageFloorOf: ((symbol: string) => number) | null = null;

  constructor(
    readonly config: EngineConfig,
    readonly mode: EngineMode,
  ) {
    this.rules = new RuleEngine(config.rules);
  }

  /** Sets `coverage_start` (live JetStream warm-up: the lower bound of the range it reads). */
  setCoverageStart(ms: number): void {
    this.coverage.start = ms;
  }

  /**
   * Events may have been lost (a core-mode NATS disconnect): coverage restarts
   * at the next accepted event's time.
   */
  coverageLost(): void {
    this.coverageFromNextEvent = true;
  }

  /** Events up to `ms` may have been lost (an overflow drop): coverage moves to at least `ms`. */
  coverageLostUntil(ms: number): void {
    if (!(this.coverage.start >= ms)) this.coverage.start = ms;
  }

  /**
   * Applies one decoded event. `nowMs` is the receive time in live mode (the
   * local clock, or a stored message's stream timestamp during warm-up);
   * offline it is ignored.
   */
  ingest(ev: MarketEvent, nowMs: number): IngestOutcome {
    const live = this.mode === 'live';
    // receive time for latency samples: live the local one, offline the envelope's, else the event's ts_recv
    const recv = live ? nowMs : (ev.envelopeRecvAt ?? ev.tsRecv);
    const ts = ev.tsExchange ?? ev.tsRecv ?? (live ? nowMs : ev.envelopeRecvAt);
    if (ts === null) {
      if (ev.type !== 'heartbeat') return reject('invalid', ev.type, 'no usable timestamp');
    } else {
      // the future guard compares the event time, whichever field it came from, with a receive time (SPEC §2)
      const guard = live ? nowMs : (ev.envelopeRecvAt ?? (ev.tsExchange !== null ? ev.tsRecv : null) ?? this.maxRecvMs);
      if (guard !== null && ts - guard > this.config.maxFutureSkewMs) {
        return reject('invalid', ev.type, `event time is ${Math.round(ts - guard)} ms after its receive time`);
      }
    }
    if (ev.type === 'heartbeat') {
      this.noteAccepted(ts, recv);
      return { kind: 'accepted', event: ev, state: null, signal: null, gap: 0 };
    }
    const t = ts!;

    let s = this.symbols.get(ev.symbol);
    if (s === undefined) {
      if (this.symbols.size >= this.config.maxSymbols) {
        this.rememberFloor(ev.symbol, t);
        return reject('symbol_limit', ev.type, `symbol ${ev.symbol} over the limit of ${this.config.maxSymbols} symbols`);
      }
      s = this.createSymbol(ev.symbol, t);
    }
    if (t <= s.clock - this.config.windowMs) {
      return reject('late', ev.type, `event time ${t} is older than the ${this.config.windowMs} ms window`);
    }
    let gap = 0;
    const recvReported = live ? nowMs : ev.tsRecv;
    const seq = ++this.arrivals;
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
        const rec = this.tradeRecord;
        rec.ts = t;
        rec.price = ev.price;
        rec.size = ev.size;
        rec.side = ev.side;
        rec.provider = provider;
        rec.id = id;
        rec.key = key;
        s.trades.add(rec, s.clock);
        s.lastTrade = { event: ev, recvMs: recvReported, ts: t, seq };
        gap = Number.isNaN(id) ? s.gaps.observe(ev.provider, tradeId) : s.gaps.observeInteger(ev.provider, id);
        break;
      }
      case 'quote':
        s.advanceTo(t);
        s.offerQuote({ event: ev, recvMs: recvReported, ts: t, seq });
        break;
      case 'book_l2':
        s.advanceTo(t);
        s.offerBook({ event: ev, recvMs: recvReported, ts: t, seq });
        break;
      default:
        return assertNever(ev);
    }
    if (ev.tsExchange !== null && recv !== null) s.latency.add(t, recv - ev.tsExchange);
    s.version++;
    if (live) s.lastAcceptedWallMs = nowMs;
    this.noteAccepted(t, recv);
    return { kind: 'accepted', event: ev, state: s, signal: this.rules.evaluate(s), gap };
  }

  /**
   * Forgets the symbols with no accepted event since `beforeWallMs` (SPEC §3,
   * `SYMBOL_IDLE_EVICT_S`): state, windows and cooldowns (kept in the state) go, the slot is freed,
   * and the symbol starts cold if it comes back. Returns the forgotten symbols.
   */
  evictIdle(beforeWallMs: number): string[] {
    const evicted: string[] = [];
    for (const [symbol, s] of this.symbols) {
      if (s.lastAcceptedWallMs < beforeWallMs) {
        this.symbols.delete(symbol);
        this.symbolChanges++;
        this.rememberFloor(symbol, FROM_FIRST_EVENT);
        evicted.push(symbol);
      }
    }
    return evicted;
  }

  /**
   * Forgets one symbol at once (cluster mode: its partition moved to another
   * member); it starts from its partition's coverage if it comes back.
   */
  forget(symbol: string): boolean {
    if (!this.symbols.delete(symbol)) return false;
    this.symbolChanges++;
    this.floors.delete(symbol);
    return true;
  }

  private createSymbol(symbol: string, firstTs: number): SymbolState {
    const s = new SymbolState(symbol, this.config.windowMs, this.coverage);
    if (this.coverageFloorOf !== null) s.coverageFloor = this.coverageFloorOf(symbol);
    const floor = this.floors.get(symbol);
    if (floor !== undefined) {
      this.floors.delete(symbol);
      s.coverageFloor = Math.max(s.coverageFloor, floor === FROM_FIRST_EVENT ? firstTs : floor);
    }
    this.symbols.set(symbol, s);
    this.symbolChanges++;
    return s;
  }

  private rememberFloor(symbol: string, ms: number): void {
    const prev = this.floors.get(symbol);
    if (prev !== undefined) {
      if (prev === FROM_FIRST_EVENT || prev >= ms) return;
      this.floors.delete(symbol); // re-inserted below as the newest
    } else if (this.floors.size >= MAX_REMEMBERED_FLOORS) {
      this.floors.delete(this.floors.keys().next().value!);
    }
    this.floors.set(symbol, ms);
  }

  /** Coverage and the offline receive-time bound after an accepted event. */
  private noteAccepted(ts: number | null, recv: number | null): void {
    if (ts !== null) {
      if (Number.isNaN(this.coverage.start)) this.coverage.start = ts;
      else if (this.coverageFromNextEvent && ts > this.coverage.start) this.coverage.start = ts;
      this.coverageFromNextEvent = false;
    }
    if (recv !== null && !(recv <= this.maxRecvMs)) this.maxRecvMs = recv;
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
