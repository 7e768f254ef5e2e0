import type { Signal, SignalDirection, SignalThresholds } from '../domain/features.js';
import { RECORD_VERSION } from '../domain/features.js';
import { return10s, spreadBps } from '../features/feature-engine.js';
import type { SymbolState } from '../state/symbol-state.js';

/** Signal rule settings (SPEC §4). */
export interface RuleConfig {
  readonly returnThreshold: number;
  readonly volumeThreshold: number;
  readonly spreadMaxBps: number;
  /** Minimum event time between two signals of one symbol and direction. */
  readonly cooldownMs: number;
}

/**
 * Evaluates the long/short rules on a symbol's features at its clock and
 * applies the per-symbol, per-direction cooldown, in event time, kept on the
 * symbol's state (`lastLongSignalTs`, `lastShortSignalTs`). Returns the
 * emitted signal, or null.
 */
export class RuleEngine {
  private readonly thresholds: SignalThresholds;

  constructor(private readonly cfg: RuleConfig) {
    this.thresholds = Object.freeze({ return: cfg.returnThreshold, volume: cfg.volumeThreshold, spread_bps: cfg.spreadMaxBps });
  }

  evaluate(s: SymbolState): Signal | null {
    const volume = s.trades.last10s.totalVolume;
    if (!(volume > this.cfg.volumeThreshold)) return null;
    const spread = spreadBps(s);
    if (spread === null || !(spread < this.cfg.spreadMaxBps)) return null;
    const ret = return10s(s);
    if (ret === null) return null;
    let direction: SignalDirection;
    if (ret > this.cfg.returnThreshold) direction = 'long';
    else if (ret < -this.cfg.returnThreshold) direction = 'short';
    else return null;
    const t = s.clock;
    if (direction === 'long') {
      if (t - s.lastLongSignalTs < this.cfg.cooldownMs) return null;
      s.lastLongSignalTs = t;
    } else {
      if (t - s.lastShortSignalTs < this.cfg.cooldownMs) return null;
      s.lastShortSignalTs = t;
    }
    return {
      v: RECORD_VERSION,
      symbol: s.symbol,
      ts: t,
      warm: s.warm,
      direction,
      return_10s: ret,
      trade_volume_10s: volume,
      spread_bps: spread,
      thresholds: this.thresholds,
    };
  }
}
