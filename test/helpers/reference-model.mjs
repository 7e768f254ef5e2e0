// @ts-check
/**
 * A deliberately naive reference model of SPEC §3 (time, state, windows) and
 * §4 (features, signal rules), written from the specification text only. The
 * one definition of the maths outside `src/`: the property test
 * (test/engine/engine-vs-reference.property.test.ts) compares the incremental
 * engine with it on random streams, and the engine benchmark (bench/engine.mjs)
 * times it as the brute-force baseline.
 *
 * Each symbol keeps plain arrays of its window's accepted trades and latency
 * samples, in event-time order, and every feature is recomputed from them on
 * every call: filter the window, sum, walk the returns, sort the latencies for
 * the percentiles. Only the bookkeeping is kept sensible (a head index drops
 * what left the window, a Set of trade keys finds duplicates), so the state
 * stays correct and cheap to keep and the cost that matters is the per-event
 * recompute, O(window), against the engine's incremental O(1). Nothing here is
 * shared with the engine (only the plain event/feature *types* are imported).
 *
 * Plain ES module with JSDoc types (checked by `tsc`, `checkJs`): the bench
 * runs it under plain `node`, the tests import it through `reference-model.ts`.
 *
 * Modes as the engine's: `offline` (compute; the default, what the property
 * test drives) and `live` (the receive time is the `nowMs` passed in).
 */

/** @typedef {import('../../src/domain/events.js').TradeEvent} TradeEvent */
/** @typedef {import('../../src/domain/events.js').QuoteEvent} QuoteEvent */
/** @typedef {import('../../src/domain/events.js').BookEvent} BookEvent */
/** @typedef {import('../../src/domain/events.js').HeartbeatEvent} HeartbeatEvent */
/** @typedef {import('../../src/domain/features.js').FeatureSnapshot} FeatureSnapshot */

/**
 * @typedef {object} ReferenceConfig
 * @property {number} windowMs Rolling window `W` in ms.
 * @property {number} maxFutureSkewMs `MAX_FUTURE_SKEW_MS`.
 * @property {number} returnThreshold
 * @property {number} volumeThreshold
 * @property {number} spreadMaxBps
 * @property {number} cooldownMs
 * @property {number} [maxSymbols] `MAX_SYMBOLS` (default: no limit).
 */

/** @typedef {'offline' | 'live'} ReferenceMode */

/** @typedef {TradeEvent | QuoteEvent | BookEvent} ReferenceEvent An event of a symbol. */

/** @typedef {'invalid' | 'late' | 'duplicate' | 'symbol_limit'} ReferenceRejectReason */

/**
 * @typedef {object} ReferenceSignal
 * @property {string} symbol
 * @property {number} ts
 * @property {'long' | 'short'} direction
 * @property {number} return_10s
 * @property {number} trade_volume_10s
 * @property {number} spread_bps
 */

/**
 * @typedef {{ readonly accepted: false, readonly reason: ReferenceRejectReason }
 *   | { readonly accepted: true, readonly features: FeatureSnapshot, readonly signal: ReferenceSignal | null }} ReferenceResult
 */

/**
 * @typedef {{ readonly accepted: false, readonly reason: ReferenceRejectReason }
 *   | { readonly accepted: true, readonly symbol: string | null }} ReferenceStateResult
 *   `symbol` is null for a heartbeat.
 */

/**
 * @typedef {object} RefTrade
 * @property {string} provider
 * @property {string | null} tradeId
 * @property {string | null} key `provider\0trade_id`, null without an id.
 * @property {number} price
 * @property {number} size
 * @property {number} ts
 * @property {number} seq Global arrival order of accepted events.
 */

/**
 * @typedef {object} RefLatency
 * @property {number} ts
 * @property {number} value
 */

/**
 * @typedef {object} RefSymbol
 * @property {number} t Symbol clock: the largest accepted event time.
 * @property {RefTrade[]} trades Accepted trades in (ts, arrival) order; those before `tradesHead` left the window.
 * @property {number} tradesHead
 * @property {Set<string>} keys Keys of the trades in the window.
 * @property {RefLatency[]} latencies Latency samples in ts order; those before `latHead` left the window.
 * @property {number} latHead
 * @property {{ bid: number, ask: number, ts: number } | null} lastQuote
 *   Best bid/ask of the newest quote or book by event time, ties to the later arrival.
 * @property {number} floor Coverage floor: the time of an event refused at the symbol limit (SPEC §11), -Infinity if none.
 * @property {Map<'long' | 'short', number>} lastEmit Event time `t` of the last emitted signal, per direction.
 */

const TEN_SECONDS = 10_000;
const SIXTY_SECONDS = 60_000;
/** Compact an array once this many entries before its head have left the window. */
const COMPACT_AT = 1024;

/**
 * Nearest-rank percentile: the ⌈pct/100·n⌉-th smallest (at least the 1st).
 * @param {readonly number[]} sorted
 * @param {number} pct
 * @returns {number | null}
 */
function nearestRank(sorted, pct) {
  const n = sorted.length;
  if (n === 0) return null;
  // pct·n is an integer, so the division by 100 has an exact ceiling.
  const rank = Math.max(1, Math.ceil((pct * n) / 100));
  const v = sorted[Math.min(rank, n) - 1];
  return v === undefined ? null : v;
}

/**
 * @param {readonly RefTrade[]} trades
 * @returns {number | null}
 */
function vwap(trades) {
  if (trades.length === 0) return null;
  let pv = 0;
  let v = 0;
  for (const tr of trades) {
    pv += tr.price * tr.size;
    v += tr.size;
  }
  return pv / v;
}

/**
 * Inserts `x` after every element with `ts <= x.ts` (arrival order among equal times).
 * @template {{ ts: number }} T
 * @param {T[]} arr
 * @param {number} head
 * @param {T} x
 */
function insertByTs(arr, head, x) {
  let i = arr.length;
  while (i > head && /** @type {T} */ (arr[i - 1]).ts > x.ts) i--;
  arr.splice(i, 0, x);
}

export class ReferenceModel {
  /** @type {Map<string, RefSymbol>} */
  #symbols = new Map();
  #seq = 0;
  /** @type {number | null} coverage_start: the event time of the first accepted event (SPEC §11). */
  #coverageStart = null;
  /** @type {number | null} Offline: the largest receive time accepted so far, the future guard's last resort. */
  #maxRecv = null;
  /** @type {Map<string, number>} Symbols refused at the limit: the latest refused event time. */
  #floors = new Map();
  /** @type {ReferenceConfig} */
  #cfg;
  /** @type {ReferenceMode} */
  #mode;

  /**
   * @param {ReferenceConfig} cfg
   * @param {ReferenceMode} [mode] `offline` (default) or `live`.
   */
  constructor(cfg, mode = 'offline') {
    this.#cfg = cfg;
    this.#mode = mode;
  }

  /**
   * Ingests one event, returning the outcome with features and the signal raised.
   * @param {ReferenceEvent} ev
   * @param {number} [nowMs] Live mode: the receive time (the local clock).
   * @returns {ReferenceResult}
   */
  ingest(ev, nowMs) {
    const r = this.ingestState(ev, nowMs);
    if (!r.accepted) return r;
    const features = this.features(ev.symbol);
    if (features === null) throw new Error('unreachable: accepted symbol without state');
    const signal = this.#evaluateSignal(ev.symbol, features);
    return { accepted: true, features, signal };
  }

  /**
   * Ingests one event, updating state only (no features, no signal rules).
   * @param {ReferenceEvent | HeartbeatEvent} ev
   * @param {number} [nowMs] Live mode: the receive time (the local clock).
   * @returns {ReferenceStateResult}
   */
  ingestState(ev, nowMs) {
    const live = this.#mode === 'live';
    if (live && nowMs === undefined) throw new TypeError('live mode: ingest needs nowMs');
    const now = nowMs ?? null;
    // Event time: ts_exchange, else ts_recv, else (live) the receive time / (offline) the envelope's received_at.
    const ts = ev.tsExchange ?? ev.tsRecv ?? (live ? now : ev.envelopeRecvAt);
    // Receive time: live the local one; offline the envelope's received_at, else ts_recv.
    const recv = live ? now : (ev.envelopeRecvAt ?? ev.tsRecv);
    if (ts === null) {
      if (ev.type !== 'heartbeat') return { accepted: false, reason: 'invalid' };
    } else {
      // The future guard: live the receive time; offline received_at, else ts_recv when ts_exchange
      // is the event time, else the largest receive time accepted so far.
      const guard = live ? now : (ev.envelopeRecvAt ?? (ev.tsExchange !== null ? ev.tsRecv : null) ?? this.#maxRecv);
      if (guard !== null && ts - guard > this.#cfg.maxFutureSkewMs) return { accepted: false, reason: 'invalid' };
    }
    if (ev.type === 'heartbeat' || ts === null) {
      this.#noteAccepted(ts, recv);
      return { accepted: true, symbol: null };
    }

    const W = this.#cfg.windowMs;
    let s = this.#symbols.get(ev.symbol);
    if (s === undefined) {
      if (this.#symbols.size >= (this.#cfg.maxSymbols ?? Number.POSITIVE_INFINITY)) {
        this.#floors.set(ev.symbol, Math.max(ts, this.#floors.get(ev.symbol) ?? Number.NEGATIVE_INFINITY));
        return { accepted: false, reason: 'symbol_limit' };
      }
      s = {
        t: ts,
        trades: [],
        tradesHead: 0,
        keys: new Set(),
        latencies: [],
        latHead: 0,
        lastQuote: null,
        floor: this.#floors.get(ev.symbol) ?? Number.NEGATIVE_INFINITY,
        lastEmit: new Map(),
      };
      this.#floors.delete(ev.symbol);
      this.#symbols.set(ev.symbol, s);
    } else if (ts <= s.t - W) {
      return { accepted: false, reason: 'late' };
    }
    // A trade whose (provider, trade_id) is already in the window is a duplicate.
    const key = ev.type === 'trade' && ev.tradeId !== null ? `${ev.provider}\u0000${ev.tradeId}` : null;
    if (key !== null && s.keys.has(key)) return { accepted: false, reason: 'duplicate' };

    this.#seq += 1;
    s.t = Math.max(s.t, ts);
    if (ev.type === 'trade') {
      insertByTs(s.trades, s.tradesHead, { provider: ev.provider, tradeId: ev.tradeId, key, price: ev.price, size: ev.size, ts, seq: this.#seq });
      if (key !== null) s.keys.add(key);
    } else if (s.lastQuote === null || ts >= s.lastQuote.ts) {
      const [bid, ask] = ev.type === 'quote' ? [ev.bid, ev.ask] : [ev.bids[0]?.[0], ev.asks[0]?.[0]];
      if (bid === undefined || ask === undefined) throw new Error('book_l2 without a level on each side');
      s.lastQuote = { bid, ask, ts };
    }
    if (ev.tsExchange !== null && recv !== null) insertByTs(s.latencies, s.latHead, { ts, value: recv - ev.tsExchange });
    this.#noteAccepted(ts, recv);
    this.#evict(s);
    return { accepted: true, symbol: ev.symbol };
  }

  /**
   * Drops what can never be inside the window again (the clock only grows).
   * @param {RefSymbol} s
   */
  #evict(s) {
    const lo = s.t - this.#cfg.windowMs;
    for (; s.tradesHead < s.trades.length; s.tradesHead++) {
      const tr = /** @type {RefTrade} */ (s.trades[s.tradesHead]);
      if (tr.ts > lo) break;
      if (tr.key !== null) s.keys.delete(tr.key);
    }
    if (s.tradesHead > COMPACT_AT && s.tradesHead * 2 > s.trades.length) {
      s.trades = s.trades.slice(s.tradesHead);
      s.tradesHead = 0;
    }
    while (s.latHead < s.latencies.length && /** @type {RefLatency} */ (s.latencies[s.latHead]).ts <= lo) s.latHead++;
    if (s.latHead > COMPACT_AT && s.latHead * 2 > s.latencies.length) {
      s.latencies = s.latencies.slice(s.latHead);
      s.latHead = 0;
    }
  }

  /**
   * @param {number | null} ts
   * @param {number | null} recv
   */
  #noteAccepted(ts, recv) {
    if (ts !== null && this.#coverageStart === null) this.#coverageStart = ts;
    if (recv !== null && (this.#maxRecv === null || recv > this.#maxRecv)) this.#maxRecv = recv;
  }

  /**
   * Features of a symbol at its clock, recomputed from scratch; null for an unknown symbol.
   * @param {string} symbol
   * @returns {FeatureSnapshot | null}
   */
  features(symbol) {
    const s = this.#symbols.get(symbol);
    if (s === undefined) return null;
    const t = s.t;
    const W = this.#cfg.windowMs;

    const inWindow = s.trades.slice(s.tradesHead).filter((tr) => tr.ts > t - W && tr.ts <= t);
    const in10 = inWindow.filter((tr) => tr.ts > t - TEN_SECONDS);
    const long = Math.min(SIXTY_SECONDS, W);
    const in60 = inWindow.filter((tr) => tr.ts > t - long);

    /** @type {number | null} */
    let mid = null;
    /** @type {number | null} */
    let spreadAbs = null;
    /** @type {number | null} */
    let spreadBps = null;
    if (s.lastQuote !== null) {
      const { bid, ask } = s.lastQuote;
      mid = (bid + ask) / 2;
      spreadAbs = ask - bid;
      spreadBps = ((ask - bid) / mid) * 10_000;
    }

    let volume10 = 0;
    for (const tr of in10) volume10 += tr.size;

    /** @type {number | null} */
    let ret = null;
    const last = inWindow[inWindow.length - 1];
    const refCandidates = inWindow.filter((tr) => tr.ts <= t - TEN_SECONDS);
    const ref = refCandidates[refCandidates.length - 1];
    if (last !== undefined && ref !== undefined) ret = last.price / ref.price - 1;

    /** @type {number | null} */
    let vol = null;
    /** @type {number[]} */
    const logReturns = [];
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
      .slice(s.latHead)
      .filter((l) => l.ts > t - W && l.ts <= t)
      .map((l) => l.value)
      .sort((a, b) => a - b);

    return {
      v: 1,
      symbol,
      ts: t,
      warm: this.#coverageStart !== null && t - W >= Math.max(this.#coverageStart, s.floor),
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

  /**
   * @param {string} symbol
   * @param {FeatureSnapshot} f
   * @returns {ReferenceSignal | null}
   */
  #evaluateSignal(symbol, f) {
    const s = this.#symbols.get(symbol);
    if (s === undefined) return null;
    const { returnThreshold: R, volumeThreshold: V, spreadMaxBps: S, cooldownMs } = this.#cfg;
    const r = f.return_10s;
    const sp = f.spread_bps;
    if (r === null || sp === null) return null;
    if (!(f.trade_volume_10s > V && sp < S)) return null;
    /** @type {'long' | 'short' | null} */
    let direction = null;
    if (r > R) direction = 'long';
    else if (r < -R) direction = 'short';
    if (direction === null) return null;
    const lastT = s.lastEmit.get(direction);
    if (lastT !== undefined && s.t - lastT < cooldownMs) return null;
    s.lastEmit.set(direction, s.t);
    return { symbol, ts: s.t, direction, return_10s: r, trade_volume_10s: f.trade_volume_10s, spread_bps: sp };
  }
}
