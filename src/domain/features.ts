/** The output records of SPEC §4/§5: features, signals and alerts. */

/** Version of the published record shapes. */
export const RECORD_VERSION = 1;

/** The flat features object of SPEC §4; `null` where undefined. */
export interface FeatureSnapshot {
  v: number;
  symbol: string;
  /** The symbol clock `t` at which the features were evaluated. */
  ts: number;
  /** Whether the whole window behind these numbers was observed (SPEC §11). */
  warm: boolean;
  mid: number | null;
  spread_abs: number | null;
  spread_bps: number | null;
  trade_vwap_10s: number | null;
  trade_vwap_60s: number | null;
  trade_count_10s: number;
  trade_volume_10s: number;
  return_10s: number | null;
  realized_vol_60s: number | null;
  latency_ms_p50: number | null;
  latency_ms_p95: number | null;
}

export type SignalDirection = 'long' | 'short';

/** Signal rule thresholds (SPEC §4). */
export interface SignalThresholds {
  readonly return: number;
  readonly volume: number;
  readonly spread_bps: number;
}

export interface Signal {
  v: number;
  symbol: string;
  ts: number;
  /** The `warm` of the features the signal was evaluated on. */
  warm: boolean;
  direction: SignalDirection;
  return_10s: number;
  trade_volume_10s: number;
  spread_bps: number;
  thresholds: SignalThresholds;
}

export const ALERT_KINDS = ['latency', 'gap', 'stale', 'backpressure', 'nats', 'symbol_limit', 'cluster'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
/** Alert levels, mildest first. */
export const ALERT_LEVELS = ['warn', 'critical'] as const;
export type AlertLevel = (typeof ALERT_LEVELS)[number];

export interface Alert {
  v: number;
  /** Local wall-clock epoch ms. */
  ts: number;
  kind: AlertKind;
  level: AlertLevel;
  symbol: string | null;
  provider: string | null;
  message: string;
  value: number | null;
  threshold: number | null;
}
