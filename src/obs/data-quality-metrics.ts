import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { RejectReason } from '../domain/events.js';
import { REJECT_REASONS } from '../domain/events.js';

/** Why a live signal was not published (SPEC §11). */
export const SIGNAL_SUPPRESS_REASONS = ['stale'] as const;
export type SignalSuppressReason = (typeof SIGNAL_SUPPRESS_REASONS)[number];

/**
 * The series that say whether the numbers can be trusted (SPEC §11): the
 * JetStream warm-up and the signals held back as history. Plain numbers read
 * by prom-client at scrape time; every fixed label starts at 0.
 */
export class DataQualityMetrics {
  /** Stored messages replayed by warm-ups. */
  warmupMessagesTotal = 0;
  /** Replayed messages the engine rejected, by reason. */
  readonly warmupDropped = new Map<RejectReason, number>(REJECT_REASONS.map((r) => [r, 0]));
  /** Seconds the last warm-up took (0 before the first). */
  warmupSeconds = 0;
  warming = false;
  readonly signalsSuppressed = new Map<SignalSuppressReason, number>(SIGNAL_SUPPRESS_REASONS.map((r) => [r, 0]));

  constructor(registry: Registry) {
    // prom-client calls collect() with the metric as `this`
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias
    new Counter({
      name: 'senpai_warmup_messages_total',
      help: 'Stored JetStream messages replayed to rebuild the windows at start (SPEC §11).',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(self.warmupMessagesTotal);
      },
    });
    new Counter({
      name: 'senpai_warmup_dropped_total',
      help: 'Replayed messages rejected during warm-up, by reason.',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, v] of self.warmupDropped) this.inc({ reason }, v);
      },
    });
    new Gauge({
      name: 'senpai_warmup_seconds',
      help: 'Duration of the last warm-up in seconds.',
      registers: [registry],
      collect() {
        this.set(self.warmupSeconds);
      },
    });
    new Gauge({
      name: 'senpai_warming',
      help: '1 while the windows are being rebuilt from the stream, else 0.',
      registers: [registry],
      collect() {
        this.set(self.warming ? 1 : 0);
      },
    });
    new Counter({
      name: 'senpai_signals_suppressed_total',
      help: 'Signals not published, by reason (stale: evaluated on history older than SIGNAL_MAX_AGE_MS).',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, v] of self.signalsSuppressed) this.inc({ reason }, v);
      },
    });
  }

  countWarmupDropped(reason: RejectReason): void {
    this.warmupDropped.set(reason, (this.warmupDropped.get(reason) ?? 0) + 1);
  }

  countSignalSuppressed(reason: SignalSuppressReason): void {
    this.signalsSuppressed.set(reason, (this.signalsSuppressed.get(reason) ?? 0) + 1);
  }

  /**
   * What an engine thread counted since the last call (ENGINE_THREAD=worker),
   * then zero; null when nothing. {@link addDelta} adds it on the I/O thread.
   */
  takeDelta(): QualityDelta | null {
    const dropped = [...this.warmupDropped].filter(([, v]) => v !== 0);
    const suppressed = [...this.signalsSuppressed].filter(([, v]) => v !== 0);
    if (this.warmupMessagesTotal === 0 && dropped.length === 0 && suppressed.length === 0) return null;
    const d: QualityDelta = { warmupMessages: this.warmupMessagesTotal, warmupDropped: dropped, signalsSuppressed: suppressed };
    this.warmupMessagesTotal = 0;
    for (const [r] of dropped) this.warmupDropped.set(r, 0);
    for (const [r] of suppressed) this.signalsSuppressed.set(r, 0);
    return d;
  }

  addDelta(d: QualityDelta): void {
    this.warmupMessagesTotal += d.warmupMessages;
    for (const [r, v] of d.warmupDropped) this.warmupDropped.set(r, (this.warmupDropped.get(r) ?? 0) + v);
    for (const [r, v] of d.signalsSuppressed) this.signalsSuppressed.set(r, (this.signalsSuppressed.get(r) ?? 0) + v);
  }
}

/** An engine thread's data-quality counts since its last report (plain data). */
export interface QualityDelta {
  readonly warmupMessages: number;
  readonly warmupDropped: readonly (readonly [RejectReason, number])[];
  readonly signalsSuppressed: readonly (readonly [SignalSuppressReason, number])[];
}
