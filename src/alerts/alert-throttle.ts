import type { Alert, AlertLevel } from '../domain/features.js';
import { RECORD_VERSION } from '../domain/features.js';
import type { AlertSpec } from './alert-rules.js';

/**
 * Raises alerts (SPEC §5) on wall-clock time, at most once per `cooldownMs`
 * for the same `(kind, symbol, provider)`. One exception: an escalation
 * (critical while a warn is cooling down) goes out, so a trader is never left
 * with only the milder news.
 */
export class AlertThrottle {
  private readonly lastRaised = new Map<string, { at: number; level: AlertLevel }>();

  constructor(
    private readonly cooldownMs: number,
    private readonly emit: (alert: Alert) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Raises `spec` unless the same alert is cooling down; returns whether it went out. Null: nothing to raise. */
  raise(spec: AlertSpec | null): boolean {
    if (spec === null) return false;
    const now = this.clock();
    const key = `${spec.kind}|${spec.symbol ?? ''}|${spec.provider ?? ''}`;
    const last = this.lastRaised.get(key);
    if (last !== undefined && now - last.at < this.cooldownMs && !(spec.level === 'critical' && last.level === 'warn')) return false;
    this.lastRaised.set(key, { at: now, level: spec.level });
    this.emit({ v: RECORD_VERSION, ts: now, ...spec });
    return true;
  }

  /** Raises `spec` whatever cooled down: for one-off events that share a key (each moved partition, SPEC §12). */
  raiseEvent(spec: AlertSpec): void {
    this.emit({ v: RECORD_VERSION, ts: this.clock(), ...spec });
  }
}
