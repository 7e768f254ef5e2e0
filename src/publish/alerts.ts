import type { Alert, AlertKind, AlertLevel } from '../domain/features.js';
import { RECORD_VERSION } from '../domain/features.js';

/** Where alerts go (the NATS publisher, a test, the dashboard). */
export type AlertSink = (alert: Alert) => void;

/**
 * Raises alerts (SPEC §5) on wall-clock time, at most once per
 * `cooldownMs` for the same `(kind, symbol, provider)`. One exception: an
 * escalation (critical while a warn is cooling down) goes out, so a trader is
 * never left with only the milder news.
 */
export class AlertManager {
  private readonly lastRaised = new Map<string, { at: number; level: AlertLevel }>();
  private readonly sinks: AlertSink[] = [];
  raisedTotal = 0;

  constructor(
    private readonly cooldownMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  subscribe(sink: AlertSink): void {
    this.sinks.push(sink);
  }

  /** Raises an alert unless one with the same key is cooling down; returns whether it went out. */
  raise(
    kind: AlertKind,
    level: AlertLevel,
    message: string,
    opts: { symbol?: string | null; provider?: string | null; value?: number | null; threshold?: number | null } = {},
  ): boolean {
    const now = this.clock();
    const symbol = opts.symbol ?? null;
    const provider = opts.provider ?? null;
    const key = `${kind}|${symbol ?? ''}|${provider ?? ''}`;
    const last = this.lastRaised.get(key);
    if (last !== undefined && now - last.at < this.cooldownMs && !(level === 'critical' && last.level === 'warn')) return false;
    this.lastRaised.set(key, { at: now, level });
    this.raisedTotal++;
    const alert: Alert = { v: RECORD_VERSION, ts: now, kind, level, symbol, provider, message, value: opts.value ?? null, threshold: opts.threshold ?? null };
    for (const sink of this.sinks) sink(alert);
    return true;
  }
}
