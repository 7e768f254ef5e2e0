/**
 * The reference for the engine benchmark: what a quick implementation of
 * SPEC §3/§4 does. Same validation, state and rules as MarketEngine, but each
 * symbol keeps plain arrays of its window's trades and latency samples, and
 * every feature is recomputed from them on every event: filter the window,
 * sum, walk the returns, sort the latencies for percentiles. Eviction and
 * duplicate detection are done sensibly (head index, Set), so the difference
 * measured is the per-event recompute, O(window), against incremental O(1).
 */

const TEN_S = 10_000;
const SIXTY_S = 60_000;

function newSymbol(symbol) {
  return {
    symbol,
    clock: Number.NEGATIVE_INFINITY,
    trades: [], // {ts, price, size, key}, in (ts, arrival) order
    tradesHead: 0,
    latencies: [], // {ts, value}
    latHead: 0,
    keys: new Set(),
    bestBid: null,
    bestAsk: null,
    bestTs: Number.NEGATIVE_INFINITY,
    lastLongAt: Number.NEGATIVE_INFINITY,
    lastShortAt: Number.NEGATIVE_INFINITY,
  };
}

function nearestRank(sorted, p) {
  const n = sorted.length;
  if (n === 0) return null;
  return sorted[Math.max(1, Math.ceil(p * n)) - 1];
}

function vwap(trades) {
  if (trades.length === 0) return null;
  let pv = 0;
  let v = 0;
  for (const t of trades) {
    pv += t.price * t.size;
    v += t.size;
  }
  return pv / v;
}

export class BruteForceEngine {
  /** @param {{windowMs: number, maxSymbols: number, maxFutureSkewMs: number, rules: {returnThreshold: number, volumeThreshold: number, spreadMaxBps: number, cooldownMs: number}}} config */
  constructor(config) {
    this.config = config;
    this.symbols = new Map();
    this.signals = 0;
  }

  /**
   * Applies one decoded event (live mode: `nowMs` is the receive time) and, when
   * `withFeatures`, recomputes the features and runs the rules. Returns the
   * features object, `true` (accepted, no features asked) or a rejection reason.
   */
  ingest(ev, nowMs, withFeatures = true) {
    const cfg = this.config;
    const recv = nowMs;
    const ts = ev.tsExchange ?? ev.tsRecv ?? nowMs;
    if (ev.tsExchange !== null && ev.tsExchange - recv > cfg.maxFutureSkewMs) return 'invalid';
    if (ev.type === 'heartbeat') return true;
    let s = this.symbols.get(ev.symbol);
    if (s === undefined) {
      if (this.symbols.size >= cfg.maxSymbols) return 'symbol_limit';
      s = newSymbol(ev.symbol);
      this.symbols.set(ev.symbol, s);
    }
    if (ts <= s.clock - cfg.windowMs) return 'late';
    let key = null;
    if (ev.type === 'trade' && ev.tradeId !== null) {
      key = `${ev.provider}\u0000${ev.tradeId}`;
      if (s.keys.has(key)) return 'duplicate';
    }
    if (ts > s.clock) {
      s.clock = ts;
      this.evict(s);
    }
    if (ev.type === 'trade') {
      const tr = s.trades;
      const rec = { ts, price: ev.price, size: ev.size, key };
      let i = tr.length;
      while (i > s.tradesHead && tr[i - 1].ts > ts) i--;
      tr.splice(i, 0, rec);
      if (key !== null) s.keys.add(key);
    } else if (ts >= s.bestTs) {
      // the newest quote or book by event time gives the best bid/ask, ties to the later arrival (SPEC §3)
      s.bestTs = ts;
      s.bestBid = ev.type === 'quote' ? ev.bid : ev.bids[0][0];
      s.bestAsk = ev.type === 'quote' ? ev.ask : ev.asks[0][0];
    }
    if (ev.tsExchange !== null) s.latencies.push({ ts, value: recv - ev.tsExchange });
    if (!withFeatures) return true;
    const f = this.features(s);
    this.rules(s, f);
    return f;
  }

  evict(s) {
    const cutoff = s.clock - this.config.windowMs;
    const tr = s.trades;
    while (s.tradesHead < tr.length && tr[s.tradesHead].ts <= cutoff) {
      const k = tr[s.tradesHead].key;
      if (k !== null) s.keys.delete(k);
      s.tradesHead++;
    }
    if (s.tradesHead > 1024 && s.tradesHead * 2 > tr.length) {
      s.trades = tr.slice(s.tradesHead);
      s.tradesHead = 0;
    }
    const lat = s.latencies;
    while (s.latHead < lat.length && lat[s.latHead].ts <= cutoff) s.latHead++;
    if (s.latHead > 1024 && s.latHead * 2 > lat.length) {
      s.latencies = lat.slice(s.latHead);
      s.latHead = 0;
    }
  }

  /** Every feature from the window arrays, from scratch. */
  features(s) {
    const t = s.clock;
    const W = this.config.windowMs;
    const inWindow = s.trades.slice(s.tradesHead);
    const in10 = inWindow.filter((x) => x.ts > t - Math.min(TEN_S, W));
    const in60 = inWindow.filter((x) => x.ts > t - Math.min(SIXTY_S, W));
    let volume10 = 0;
    for (const x of in10) volume10 += x.size;
    const last = inWindow.length > 0 ? inWindow[inWindow.length - 1] : undefined;
    const refs = inWindow.filter((x) => x.ts <= t - TEN_S);
    const ref = refs.length > 0 ? refs[refs.length - 1] : undefined;
    const returns = [];
    for (let i = 1; i < in60.length; i++) returns.push(Math.log(in60[i].price / in60[i - 1].price));
    let vol = null;
    if (returns.length >= 2) {
      const mean = returns.reduce((a, r) => a + r, 0) / returns.length;
      const ss = returns.reduce((a, r) => a + (r - mean) * (r - mean), 0);
      vol = Math.sqrt(ss / (returns.length - 1));
    }
    const lats = s.latencies
      .slice(s.latHead)
      .map((l) => l.value)
      .sort((a, b) => a - b);
    const hasBook = s.bestBid !== null && s.bestAsk !== null;
    const mid = hasBook ? (s.bestBid + s.bestAsk) / 2 : null;
    return {
      v: 1,
      symbol: s.symbol,
      ts: t,
      mid,
      spread_abs: hasBook ? s.bestAsk - s.bestBid : null,
      spread_bps: hasBook ? ((s.bestAsk - s.bestBid) / mid) * 10000 : null,
      trade_vwap_10s: vwap(in10),
      trade_vwap_60s: vwap(in60),
      trade_count_10s: in10.length,
      trade_volume_10s: volume10,
      return_10s: last !== undefined && ref !== undefined ? last.price / ref.price - 1 : null,
      realized_vol_60s: vol,
      latency_ms_p50: nearestRank(lats, 0.5),
      latency_ms_p95: nearestRank(lats, 0.95),
    };
  }

  rules(s, f) {
    const r = this.config.rules;
    if (!(f.trade_volume_10s > r.volumeThreshold) || f.spread_bps === null || !(f.spread_bps < r.spreadMaxBps) || f.return_10s === null) return;
    let direction;
    if (f.return_10s > r.returnThreshold) direction = 'long';
    else if (f.return_10s < -r.returnThreshold) direction = 'short';
    else return;
    const lastAt = direction === 'long' ? s.lastLongAt : s.lastShortAt;
    if (s.clock - lastAt < r.cooldownMs) return;
    if (direction === 'long') s.lastLongAt = s.clock;
    else s.lastShortAt = s.clock;
    this.signals++;
  }
}
