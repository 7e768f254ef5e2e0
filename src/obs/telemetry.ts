import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventTypeLabel, RejectReason } from '../domain/events.js';
import type { SignalDirection } from '../domain/features.js';

/** Provider label values are bounded (SPEC §8): the first 32 distinct, then `other`. */
export const MAX_PROVIDER_LABELS = 32;

/**
 * The pipeline's counters (SPEC §7 `/stats`, §8 metrics). The hot path bumps
 * plain numbers; prom-client metrics read them only when scraped, so counting
 * costs no label hashing per event.
 */
export class Telemetry {
  readonly registry = new Registry();
  readonly startedAt = Date.now();
  eventsInTotal = 0;
  eventsProcessedTotal = 0;
  eventsDroppedTotal = 0;
  featuresPublishedTotal = 0;
  signalsEmittedTotal = 0;
  publishErrorsTotal = 0;
  natsConnected = false;
  private readonly eventsIn = new Map<string, number>();
  private readonly dropped = new Map<string, number>();
  private readonly droppedByReason = new Map<RejectReason, number>();
  private readonly featurePublishes = new Map<string, number>();
  private readonly signals = new Map<string, number>();
  private readonly providers = new Set<string>();
  /** Events in per second, for the last 10 whole seconds plus the current one. */
  private readonly perSecond = new Float64Array(11);
  private perSecondEpoch = Math.floor(Date.now() / 1000);
  readonly processingLatency: Histogram;

  constructor(
    queueFill: () => number,
    opts: { defaultMetrics?: boolean } = {},
  ) {
    const eventsIn = this.eventsIn;
    const dropped = this.dropped;
    const featurePublishes = this.featurePublishes;
    const signals = this.signals;
    const isConnected = () => this.natsConnected;
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    new Counter({
      name: 'senpai_events_in_total',
      help: 'Messages received from NATS, by event type and provider.',
      labelNames: ['type', 'provider'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [k, v] of eventsIn) {
          const [type, provider] = k.split('|') as [string, string];
          this.inc({ type, provider }, v);
        }
      },
    });
    new Counter({
      name: 'senpai_events_dropped_total',
      help: 'Messages rejected or dropped, by reason and event type.',
      labelNames: ['reason', 'type'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [k, v] of dropped) {
          const [reason, type] = k.split('|') as [string, string];
          this.inc({ reason, type }, v);
        }
      },
    });
    new Gauge({
      name: 'senpai_queue_fill_ratio',
      help: 'Bounded queue size over its capacity.',
      registers: [this.registry],
      collect() {
        this.set(queueFill());
      },
    });
    this.processingLatency = new Histogram({
      name: 'senpai_processing_latency_ms',
      help: 'Milliseconds from the NATS callback receiving a message to the end of its processing, queue wait included.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, 5000],
      registers: [this.registry],
    });
    new Counter({
      name: 'senpai_feature_publish_total',
      help: 'Feature objects published on senpai.features.{symbol}.',
      labelNames: ['symbol'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [symbol, v] of featurePublishes) this.inc({ symbol }, v);
      },
    });
    new Counter({
      name: 'senpai_signals_emitted_total',
      help: 'Signals published on senpai.signals.{symbol}.',
      labelNames: ['symbol', 'direction'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [k, v] of signals) {
          const [symbol, direction] = k.split('|') as [string, string];
          this.inc({ symbol, direction }, v);
        }
      },
    });
    new Gauge({
      name: 'senpai_nats_connected',
      help: '1 while the NATS connection is up, else 0.',
      registers: [this.registry],
      collect() {
        this.set(isConnected() ? 1 : 0);
      },
    });
  }

  /** The bounded provider label for a provider name. */
  providerLabel(provider: string): string {
    if (this.providers.has(provider)) return provider;
    if (this.providers.size < MAX_PROVIDER_LABELS) {
      this.providers.add(provider);
      return provider;
    }
    return 'other';
  }

  countIn(type: EventTypeLabel, provider: string): void {
    this.eventsInTotal++;
    const key = `${type}|${this.providerLabel(provider)}`;
    this.eventsIn.set(key, (this.eventsIn.get(key) ?? 0) + 1);
    const sec = Math.floor(Date.now() / 1000);
    this.rollSeconds(sec);
    this.perSecond[sec % 11]!++;
  }

  countDropped(reason: RejectReason, type: EventTypeLabel): void {
    this.eventsDroppedTotal++;
    const key = `${reason}|${type}`;
    this.dropped.set(key, (this.dropped.get(key) ?? 0) + 1);
    this.droppedByReason.set(reason, (this.droppedByReason.get(reason) ?? 0) + 1);
  }

  countFeaturePublish(symbol: string): void {
    this.featuresPublishedTotal++;
    this.featurePublishes.set(symbol, (this.featurePublishes.get(symbol) ?? 0) + 1);
  }

  countSignal(symbol: string, direction: SignalDirection): void {
    this.signalsEmittedTotal++;
    const key = `${symbol}|${direction}`;
    this.signals.set(key, (this.signals.get(key) ?? 0) + 1);
  }

  droppedCount(reason: RejectReason): number {
    return this.droppedByReason.get(reason) ?? 0;
  }

  droppedByReasonObject(): Record<string, number> {
    return Object.fromEntries(this.droppedByReason);
  }

  /** Events in per second over the last 10 whole seconds. */
  eventsPerSecond(): number {
    const sec = Math.floor(Date.now() / 1000);
    this.rollSeconds(sec);
    let sum = 0;
    for (let i = 1; i <= 10; i++) sum += this.perSecond[(sec - i + 11) % 11]!;
    return sum / 10;
  }

  uptimeSeconds(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  private rollSeconds(sec: number): void {
    if (sec === this.perSecondEpoch) return;
    const gap = Math.min(sec - this.perSecondEpoch, 11);
    for (let i = 1; i <= gap; i++) this.perSecond[(this.perSecondEpoch + i) % 11] = 0;
    this.perSecondEpoch = sec;
  }
}
