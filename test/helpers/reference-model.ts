/**
 * A deliberately naive reference model of SPEC §3 (time, state, windows) and
 * §4 (features, signal rules), written from the specification text only.
 *
 * It keeps plain arrays of the accepted trades and latency samples of each
 * symbol and recomputes every feature from scratch, by filtering and sorting,
 * on every call. Nothing here is shared with the incremental engine in `src/`
 * (only the plain event/record *types* are imported), so the two can be
 * compared on random streams.
 *
 * Scope: offline mode, trade and quote events (already decoded).
 */
import type { QuoteEvent, TradeEvent } from '../../src/domain/events.js';
import type { FeatureSnapshot } from '../../src/domain/features.js';

export interface ReferenceConfig {
  /** Rolling window `W` in ms. */
  readonly windowMs: number;
  /** `MAX_FUTURE_SKEW_MS`. */
  readonly maxFutureSkewMs: number;
  readonly returnThreshold: number;
  readonly volumeThreshold: number;
  readonly spreadMaxBps: number;
  readonly cooldownMs: number;
}

export type ReferenceEvent = TradeEvent | QuoteEvent;

export type ReferenceRejectReason = 'invalid' | 'late' | 'duplicate';

export interface ReferenceSignal {
  readonly symbol: string;
  readonly ts: number;
  readonly direction: 'long' | 'short';
  readonly return_10s: number;
  readonly trade_volume_10s: number;
  readonly spread_bps: number;
}

export type ReferenceResult =
  | { readonly accepted: false; readonly reason: ReferenceRejectReason }
  | { readonly accepted: true; readonly features: FeatureSnapshot; readonly signal: ReferenceSignal | null };

export type ReferenceStateResult =
  | { readonly accepted: false; readonly reason: ReferenceRejectReason }
  | { readonly accepted: true; readonly symbol: string };

interface RefTrade {
  readonly provider: string;
  readonly tradeId: string | null;
  readonly price: number;
  readonly size: number;
  readonly ts: number;
  /** Global arrival order of accepted events. */
  readonly seq: number;
}

interface RefLatency {
  readonly ts: number;
  readonly value: number;
}

interface RefSymbol {
  /** Symbol clock: the largest accepted event time. */
  t: number;
  trades: RefTrade[];
  latencies: RefLatency[];
  /** Best bid/ask of the most recently arrived quote. */
  lastQuote: { bid: number; ask: number } | null;
  /** Event time `t` of the last emitted signal, per direction. */
  lastEmit: Map<'long' | 'short', number>;
}

const TEN_SECONDS = 10_000;
const SIXTY_SECONDS = 60_000;

/** Nearest-rank percentile: the ⌈pct/100·n⌉-th smallest (at least the 1st). */
function nearestRank(sorted: readonly number[], pct: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  // pct·n is an integer, so the division by 100 has an exact ceiling.
  const rank = Math.max(1, Math.ceil((pct * n) / 100));
  const v = sorted[Math.min(rank, n) - 1];
  return v === undefined ? null : v;
}

function vwap(trades: readonly RefTrade[]): number | null {
  if (trades.length === 0) return null;
  let pv = 0;
  let v = 0;
  for (const tr of trades) {
    pv += tr.price * tr.size;
    v += tr.size;
  }
  return pv / v;
}

function byTsThenArrival(a: RefTrade, b: RefTrade): number {
  return a.ts !== b.ts ? a.ts - b.ts : a.seq - b.seq;
}

export class ReferenceModel {
  private readonly symbols = new Map<string, RefSymbol>();
  private seq = 0;

  constructor(private readonly cfg: ReferenceConfig) {}

  /** Ingests one event, returning the outcome with features and the signal raised. */
  ingest(ev: ReferenceEvent): ReferenceResult {
    const r = this.ingestState(ev);
    if (!r.accepted) return r;
    const features = this.features(r.symbol);
    if (features === null) throw new Error('unreachable: accepted symbol without state');
    const signal = this.evaluateSignal(r.symbol, features);
    return { accepted: true, features, signal };
  }

  /** Ingests one event, updating state only (no features, no signal rules). */
  ingestState(ev: ReferenceEvent): ReferenceStateResult {
    // Offline event time: ts_exchange, else ts_recv; neither → invalid.
    const ts = ev.tsExchange ?? ev.tsRecv;
    if (ts === null) return { accepted: false, reason: 'invalid' };
    // Offline receive time: the envelope's received_at, else ts_recv.
    const recv = ev.envelopeRecvAt ?? ev.tsRecv;
    if (ev.tsExchange !== null && recv !== null && ev.tsExchange - recv > this.cfg.maxFutureSkewMs) {
      return { accepted: false, reason: 'invalid' };
    }

    const W = this.cfg.windowMs;
    const existing = this.symbols.get(ev.symbol);
    if (existing !== undefined) {
      const t = existing.t;
      if (ts <= t - W) return { accepted: false, reason: 'late' };
      if (ev.type === 'trade' && ev.tradeId !== null) {
        const dup = existing.trades.some(
          (tr) =>
            tr.ts > t - W &&
            tr.ts <= t &&
            tr.provider === ev.provider &&
            tr.tradeId === ev.tradeId,
        );
        if (dup) return { accepted: false, reason: 'duplicate' };
      }
    }

    const s: RefSymbol = existing ?? {
      t: ts,
      trades: [],
      latencies: [],
      lastQuote: null,
      lastEmit: new Map(),
    };
    if (existing === undefined) this.symbols.set(ev.symbol, s);

    this.seq += 1;
    s.t = Math.max(s.t, ts);
    if (ev.type === 'trade') {
      s.trades.push({
        provider: ev.provider,
        tradeId: ev.tradeId,
        price: ev.price,
        size: ev.size,
        ts,
        seq: this.seq,
      });
    } else {
      s.lastQuote = { bid: ev.bid, ask: ev.ask };
    }
    if (ev.tsExchange !== null && recv !== null) {
      s.latencies.push({ ts, value: recv - ev.tsExchange });
    }

    // Drop what can never be inside the window again (the clock only grows).
    const lo = s.t - W;
    s.trades = s.trades.filter((tr) => tr.ts > lo);
    s.latencies = s.latencies.filter((l) => l.ts > lo);
    return { accepted: true, symbol: ev.symbol };
  }

  /** Features of a symbol at its clock, recomputed from scratch; null for an unknown symbol. */
  features(symbol: string): FeatureSnapshot | null {
    const s = this.symbols.get(symbol);
    if (s === undefined) return null;
    const t = s.t;
    const W = this.cfg.windowMs;

    const inWindow = s.trades.filter((tr) => tr.ts > t - W && tr.ts <= t).sort(byTsThenArrival);
    const in10 = inWindow.filter((tr) => tr.ts > t - TEN_SECONDS);
    const long = Math.min(SIXTY_SECONDS, W);
    const in60 = inWindow.filter((tr) => tr.ts > t - long);

    let mid: number | null = null;
    let spreadAbs: number | null = null;
    let spreadBps: number | null = null;
    if (s.lastQuote !== null) {
      const { bid, ask } = s.lastQuote;
      mid = (bid + ask) / 2;
      spreadAbs = ask - bid;
      spreadBps = ((ask - bid) / mid) * 10_000;
    }

    let volume10 = 0;
    for (const tr of in10) volume10 += tr.size;

    let ret: number | null = null;
    const last = inWindow[inWindow.length - 1];
    const refCandidates = inWindow.filter((tr) => tr.ts <= t - TEN_SECONDS);
    const ref = refCandidates[refCandidates.length - 1];
    if (last !== undefined && ref !== undefined) ret = last.price / ref.price - 1;

    let vol: number | null = null;
    const logReturns: number[] = [];
    for (let i = 1; i < in60.length; i++) {
      const a = in60[i - 1];
      const b = in60[i];
      if (a !== undefined && b !== undefined) logReturns.push(Math.log(b.price / a.price));
    }
    if (logReturns.length >= 2) {
      const n = logReturns.length;
      const mean = logReturns.reduce((acc, x) => acc + x, 0) / n;
      const ss = logReturns.reduce((acc, x) => acc + (x - mean) * (x - mean), 0);
      vol = Math.sqrt(ss / (n - 1));
    }

    const lats = s.latencies
      .filter((l) => l.ts > t - W && l.ts <= t)
      .map((l) => l.value)
      .sort((a, b) => a - b);

    return {
      v: 1,
      symbol,
      ts: t,
      warm: false, // coverage (SPEC §11) is not modelled here yet, as in the engine
      mid,
      spread_abs: spreadAbs,
      spread_bps: spreadBps,
      trade_vwap_10s: vwap(in10),
      trade_vwap_60s: vwap(in60),
      trade_count_10s: in10.length,
      trade_volume_10s: volume10,
      return_10s: ret,
      realized_vol_60s: vol,
      latency_ms_p50: nearestRank(lats, 50),
      latency_ms_p95: nearestRank(lats, 95),
    };
  }

  private evaluateSignal(symbol: string, f: FeatureSnapshot): ReferenceSignal | null {
    const s = this.symbols.get(symbol);
    if (s === undefined) return null;
    const { returnThreshold: R, volumeThreshold: V, spreadMaxBps: S, cooldownMs } = this.cfg;
    const r = f.return_10s;
    const sp = f.spread_bps;
    if (r === null || sp === null) return null;
    if (!(f.trade_volume_10s > V && sp < S)) return null;
    let direction: 'long' | 'short' | null = null;
    if (r > R) direction = 'long';
    else if (r < -R) direction = 'short';
    if (direction === null) return null;
    const lastT = s.lastEmit.get(direction);
    if (lastT !== undefined && s.t - lastT < cooldownMs) return null;
    s.lastEmit.set(direction, s.t);
    return {
      symbol,
      ts: s.t,
      direction,
      return_10s: r,
      trade_volume_10s: f.trade_volume_10s,
      spread_bps: sp,
    };
  }
}
