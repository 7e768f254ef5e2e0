import type { Alert, AlertLevel } from '../domain/features.js';
import { RECORD_VERSION } from '../domain/features.js';
import type { AlertSpec } from './alert-rules.js';

/** Below this many cooldowns held, none is swept. */
const MIN_SWEEP_SIZE = 1024;

/**
 * Raises alerts (SPEC §5) on wall-clock time, at most once per `cooldownMs`
 * for the same `(kind, symbol, provider)`. One exception: an escalation
 * (critical while a warn is cooling down) goes out, so a trader is never left
 * with only the milder news.
 */
export class AlertThrottle {
  private readonly lastRaised = new Map<string, { at: number; level: AlertLevel }>();
  /**
   * The map is swept of cooled-down entries (they mean the same as none) when
   * it passes this size, then allowed twice what is left: alerts keyed by
   * symbols that come and go (evicted, refused at MAX_SYMBOLS) would otherwise
   * stay for the life of the process. Amortised O(1) per raise.
   */
  private sweepAbove = MIN_SWEEP_SIZE;

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
    if (this.lastRaised.size > this.sweepAbove) this.sweep(now);
    this.emit({ v: RECORD_VERSION, ts: now, ...spec });
    return true;
  }

  /** Cooldowns held (alerts raised within the last `cooldownMs`, and cooled-down ones not swept yet). */
  get tracked(): number {
    return this.lastRaised.size;
  }

  private sweep(now: number): void {
    for (const [key, last] of this.lastRaised) if (!(now - last.at < this.cooldownMs)) this.lastRaised.delete(key);
    this.sweepAbove = Math.max(MIN_SWEEP_SIZE, 2 * this.lastRaised.size);
  }

  /** Raises `spec` whatever cooled down: for one-off events that share a key (each moved partition, SPEC §12). */
  raiseEvent(spec: AlertSpec): void {
    this.emit({ v: RECORD_VERSION, ts: this.clock(), ...spec });
  }
}
