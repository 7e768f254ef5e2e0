import type { FeatureSnapshot } from '../domain/features.js';
import { RECORD_VERSION } from '../domain/features.js';
import type { SymbolState } from '../state/symbol-state.js';

/** The feature maths of SPEC §4 over one symbol's state. Pure: no I/O. */

export function mid(s: SymbolState): number | null {
  return s.bestBid === null || s.bestAsk === null ? null : (s.bestBid + s.bestAsk) / 2;
}

export function spreadBps(s: SymbolState): number | null {
  if (s.bestBid === null || s.bestAsk === null) return null;
  const m = (s.bestBid + s.bestAsk) / 2;
  return ((s.bestAsk - s.bestBid) / m) * 10000;
}

/** `p_last / p_ref − 1`, or null without a reference trade. */
export function return10s(s: SymbolState): number | null {
  const ref = s.trades.referencePrice();
  const last = s.trades.lastPrice();
  return ref === null || last === null ? null : last / ref - 1;
}

/** The full features object at the symbol clock. */
export function computeFeatures(s: SymbolState): FeatureSnapshot {
  const short = s.trades.short;
  const long = s.trades.long;
  const hasBook = s.bestBid !== null && s.bestAsk !== null;
  return {
    v: RECORD_VERSION,
    symbol: s.symbol,
    ts: s.clock,
    // Placeholder until the engine tracks coverage (SPEC §11, issue 8): false
    // claims nothing, true would vouch for a window nobody checked.
    warm: false,
    mid: mid(s),
    spread_abs: hasBook ? s.bestAsk! - s.bestBid! : null,
    spread_bps: spreadBps(s),
    trade_vwap_10s: short.vwap,
    trade_vwap_60s: long.vwap,
    trade_count_10s: short.count,
    trade_volume_10s: short.totalVolume,
    return_10s: return10s(s),
    realized_vol_60s: s.trades.stdevReturns(long),
    latency_ms_p50: s.latency.percentile(0.5),
    latency_ms_p95: s.latency.percentile(0.95),
  };
}
