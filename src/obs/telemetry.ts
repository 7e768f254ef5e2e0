import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventTypeLabel, RejectReason } from '../domain/events.js';
import { EVENT_TYPE_LABELS, REJECT_REASONS } from '../domain/events.js';
import type { AlertKind, AlertLevel, SignalDirection } from '../domain/features.js';
import { ALERT_KINDS, ALERT_LEVELS } from '../domain/features.js';

/** Provider label values are bounded (SPEC §8): the first 32 distinct, then `other`. */
export const MAX_PROVIDER_LABELS = 32;
/** A provider name longer than this is labelled `other` and takes none of the 32 (DECISIONS 71). */
export const MAX_PROVIDER_LABEL_LENGTH = 64;
/** Default bound of the `symbol` label (`METRICS_MAX_SYMBOLS`, SPEC §8). */
export const DEFAULT_MAX_SYMBOL_LABELS = 100;
/** The label value of everything past a label bound. */
export const OTHER_LABEL = 'other';
/** The provider label of messages whose provider is not known (dropped before decoding, or absent). */
const UNKNOWN_PROVIDER = 'unknown';

/** Outputs a publish can fail for: the `output` label of `senpai_publish_errors_total`. */
export const PUBLISH_OUTPUTS = ['features', 'signals', 'alerts'] as const;
export type PublishOutput = (typeof PUBLISH_OUTPUTS)[number];

const SIGNAL_DIRECTIONS: readonly SignalDirection[] = ['long', 'short'];

/** The `type` label values, from the one table of event types (`unknown` last). */
const TYPE_LABELS = EVENT_TYPE_LABELS;
const TYPES = TYPE_LABELS.length;
const TYPE_INDEX = new Map<EventTypeLabel, number>(TYPE_LABELS.map((t, i) => [t, i]));

function typeIndex(type: EventTypeLabel): number {
  return TYPE_INDEX.get(type) ?? TYPES - 1;
}

const REASON_INDEX = new Map<RejectReason, number>(REJECT_REASONS.map((r, i) => [r, i]));
const OUTPUT_INDEX = new Map<PublishOutput, number>(PUBLISH_OUTPUTS.map((o, i) => [o, i]));
const ALERT_KIND_INDEX = new Map<AlertKind, number>(ALERT_KINDS.map((k, i) => [k, i]));
const ALERT_LEVEL_INDEX = new Map<AlertLevel, number>(ALERT_LEVELS.map((l, i) => [l, i]));

/** Construction options of {@link Telemetry}. */
export interface TelemetryOptions {
  /** Register prom-client's Node.js process metrics (default true). */
  readonly defaultMetrics?: boolean;
  /** Symbols that keep their own `symbol` label; later ones count as `other` (default 100). */
  readonly maxSymbolLabels?: number;
}

/** Bucket upper bounds of `senpai_processing_latency_ms`, in ms. */
export const PROCESSING_LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, 5000];

/**
 * A label-less Prometheus histogram whose `observe` is a bucket search and
 * three additions (prom-client's costs a label hash and object lookups per
 * call, more than processing an event). It registers as a prom-client metric
 * and exports exactly what prom-client's `Histogram` would.
 */
export class LatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    this.counts = new Float64Array(upperBounds.length + 1);
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  observe(v: number): void {
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && v > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  /** The prom-client metric object: cumulative buckets, +Inf, _sum, _count. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string | number>; value: number; metricName: string }[] }> {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    let acc = 0;
    for (let i = 0; i < this.upperBounds.length; i++) {
      acc += this.counts[i]!;
      values.push({ labels: { le: this.upperBounds[i]! }, value: acc, metricName: `${this.name}_bucket` });
    }
    values.push({ labels: { le: '+Inf' }, value: this.count, metricName: `${this.name}_bucket` });
    values.push({ labels: {}, value: this.sum, metricName: `${this.name}_sum` });
    values.push({ labels: {}, value: this.count, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/**
 * What an engine thread counted since its last report (ENGINE_THREAD=worker):
 * {@link Telemetry.takeDelta} there, {@link Telemetry.addDelta} on the I/O
 * thread, whose telemetry is the one exported. Plain data (structured clone).
 */
export interface TelemetryDelta {
  /** events in, processed, dropped, features published, signals emitted. */
  readonly totals: readonly number[];
  /** Per provider label: events in by type index. */
  readonly eventsIn: readonly (readonly [string, Float64Array])[];
  readonly dropped: Float64Array;
  /** Reasons in the order they first dropped an event in this delta. */
  readonly reasonsSeen: readonly RejectReason[];
  /** Per symbol label: features, long, short. */
  readonly perSymbol: readonly (readonly [string, number, number, number])[];
  readonly alerts: Float64Array;
  /** Events in per second: `perSecond[s % 11]` for the seconds s in (perSecondEpoch − 11, perSecondEpoch]. */
  readonly perSecondEpoch: number;
  readonly perSecond: Float64Array;
  /** Latency histogram: bucket counts, then sum, then count. */
  readonly latency: Float64Array;
}

/**
 * The pipeline's counters (SPEC §7 `/stats`, §8 metrics). The hot path bumps
 * plain numbers in typed arrays; prom-client metrics read them only when
 * scraped, so counting costs no label hashing, string building or clock read
 * per event. Label values are bounded and every fixed label set is exported
 * from the start at 0, derived from the domain's constant lists.
 */
export class Telemetry {
  readonly registry = new Registry();
  readonly startedAt = Date.now();
  eventsInTotal = 0;
  eventsProcessedTotal = 0;
  eventsDroppedTotal = 0;
  featuresPublishedTotal = 0;
  signalsEmittedTotal = 0;
  /** Failed publishes, all outputs (by output in `senpai_publish_errors_total`). */
  publishErrorsTotal = 0;
  natsConnected = false;
  /** The `symbol` label bound: symbols that keep their own label. */
  readonly maxSymbolLabels: number;
  /** Events in by type index, per provider label. */
  private readonly eventsIn = new Map<string, Float64Array>();
  /** Drops by `reason index × types + type index`. */
  private readonly dropped = new Float64Array(REJECT_REASONS.length * TYPES);
  /** Reasons in the order they first dropped an event (the order of `dropped_by_reason`). */
  private readonly reasonsSeen: RejectReason[] = [];
  /** Feature publishes and signals (long, short) per symbol label, in the order the labels were given out. */
  private readonly perSymbol = new Map<string, { features: number; long: number; short: number }>();
  private readonly providers = new Set<string>();
  private readonly publishErrors = new Float64Array(PUBLISH_OUTPUTS.length);
  /** Alerts by `kind index × levels + level index`. */
  private readonly alertCounts = new Float64Array(ALERT_KINDS.length * ALERT_LEVELS.length);
  /** Events in per second, for the last 10 whole seconds plus the current one. */
  private readonly perSecond = new Float64Array(11);
  private perSecondEpoch = Math.floor(Date.now() / 1000);
  readonly processingLatency: LatencyHistogram;

  constructor(
    queueFill: () => number,
    opts: TelemetryOptions = {},
  ) {
    this.maxSymbolLabels = opts.maxSymbolLabels ?? DEFAULT_MAX_SYMBOL_LABELS;
    // rejections before decoding carry no provider: their series exist from the start
    this.countsOf(UNKNOWN_PROVIDER);
    const eventsIn = this.eventsIn;
    const dropped = this.dropped;
    const perSymbol = this.perSymbol;
    const publishErrors = this.publishErrors;
    const alertCounts = this.alertCounts;
    const isConnected = () => this.natsConnected;
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    new Counter({
      name: 'senpai_events_in_total',
      help: 'Messages received from NATS, by event type and provider.',
      labelNames: ['type', 'provider'],
      registers: [this.registry],
      collect() {
        this.reset();
        // every type of every provider label given out, zeros included
        for (const [provider, counts] of eventsIn) {
          for (let t = 0; t < TYPES; t++) this.inc({ type: TYPE_LABELS[t]!, provider }, counts[t]!);
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
        for (let r = 0; r < REJECT_REASONS.length; r++) {
          for (let t = 0; t < TYPES; t++) this.inc({ reason: REJECT_REASONS[r]!, type: TYPE_LABELS[t]! }, dropped[r * TYPES + t]!);
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
    this.processingLatency = new LatencyHistogram(
      'senpai_processing_latency_ms',
      'Milliseconds from the socket read that carried a message reaching the client (its first NATS callback) to the end of the message\'s processing, queue wait included.',
      PROCESSING_LATENCY_BUCKETS,
      this.registry,
    );
    new Counter({
      name: 'senpai_feature_publish_total',
      help: `Feature objects published on senpai.features.{symbol}; the first ${this.maxSymbolLabels} symbols keep their label, later ones count as "other".`,
      labelNames: ['symbol'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [symbol, c] of perSymbol) this.inc({ symbol }, c.features);
      },
    });
    new Counter({
      name: 'senpai_signals_emitted_total',
      help: 'Signals published on senpai.signals.{symbol}, by direction; symbol labels bounded as for senpai_feature_publish_total.',
      labelNames: ['symbol', 'direction'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [symbol, c] of perSymbol) {
          for (const direction of SIGNAL_DIRECTIONS) this.inc({ symbol, direction }, c[direction]);
        }
      },
    });
    new Counter({
      name: 'senpai_publish_errors_total',
      help: 'Publishes to NATS that failed (connection closed or the client refused), by output.',
      labelNames: ['output'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (let o = 0; o < PUBLISH_OUTPUTS.length; o++) this.inc({ output: PUBLISH_OUTPUTS[o]! }, publishErrors[o]!);
      },
    });
    new Counter({
      name: 'senpai_alerts_total',
      help: 'Alerts raised (after the cooldown), by kind and level.',
      labelNames: ['kind', 'level'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (let k = 0; k < ALERT_KINDS.length; k++) {
          for (let l = 0; l < ALERT_LEVELS.length; l++) this.inc({ kind: ALERT_KINDS[k]!, level: ALERT_LEVELS[l]! }, alertCounts[k * ALERT_LEVELS.length + l]!);
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
    if (this.providers.size < MAX_PROVIDER_LABELS && provider.length <= MAX_PROVIDER_LABEL_LENGTH) {
      this.providers.add(provider);
      return provider;
    }
    return OTHER_LABEL;
  }

  /** Counts a message in; `nowMs` is its receive time (wall clock, epoch ms). */
  countIn(type: EventTypeLabel, provider: string, nowMs = Date.now()): void {
    this.eventsInTotal++;
    // a key of eventsIn is a label: a labelled provider or `other`, which is its own label either way
    const counts = this.eventsIn.get(provider) ?? this.countsOf(this.providerLabel(provider));
    counts[typeIndex(type)]!++;
    const sec = Math.floor(nowMs / 1000);
    if (sec !== this.perSecondEpoch) this.rollSeconds(sec);
    this.perSecond[sec % 11]!++;
  }

  countDropped(reason: RejectReason, type: EventTypeLabel): void {
    this.eventsDroppedTotal++;
    const r = REASON_INDEX.get(reason)!;
    if (this.reasonCount(r) === 0) this.reasonsSeen.push(reason);
    this.dropped[r * TYPES + typeIndex(type)]!++;
  }

  /**
   * The bounded `symbol` label (SPEC §8): the first {@link maxSymbolLabels}
   * symbols keep their own, every later one is `other`. A label once given
   * stays, so a series never changes meaning.
   */
  symbolLabel(symbol: string): string {
    this.symbolCounts(symbol);
    return this.perSymbol.has(symbol) ? symbol : OTHER_LABEL;
  }

  countFeaturePublish(symbol: string): void {
    this.featuresPublishedTotal++;
    this.symbolCounts(symbol).features++;
  }

  countSignal(symbol: string, direction: SignalDirection): void {
    this.signalsEmittedTotal++;
    this.symbolCounts(symbol)[direction]++;
  }

  countPublishError(output: PublishOutput): void {
    this.publishErrorsTotal++;
    this.publishErrors[OUTPUT_INDEX.get(output)!]!++;
  }

  countAlert(kind: AlertKind, level: AlertLevel): void {
    this.alertCounts[ALERT_KIND_INDEX.get(kind)! * ALERT_LEVELS.length + ALERT_LEVEL_INDEX.get(level)!]!++;
  }

  /** Alerts raised so far of a kind and level. */
  alertCount(kind: AlertKind, level: AlertLevel): number {
    return this.alertCounts[ALERT_KIND_INDEX.get(kind)! * ALERT_LEVELS.length + ALERT_LEVEL_INDEX.get(level)!]!;
  }

  droppedCount(reason: RejectReason): number {
    return this.reasonCount(REASON_INDEX.get(reason)!);
  }

  droppedByReasonObject(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const reason of this.reasonsSeen) out[reason] = this.droppedCount(reason);
    return out;
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

  /**
   * Everything counted since the last call, then zero (the labels given out
   * stay): an engine thread's telemetry reports this way and is read by
   * nobody else. Null when nothing was counted.
   */
  takeDelta(): TelemetryDelta | null {
    const h = this.processingLatency;
    const totals = [this.eventsInTotal, this.eventsProcessedTotal, this.eventsDroppedTotal, this.featuresPublishedTotal, this.signalsEmittedTotal];
    const alertsAny = this.alertCounts.some((v) => v !== 0);
    if (totals.every((v) => v === 0) && !alertsAny && h.count === 0) return null;
    const eventsIn: [string, Float64Array][] = [];
    for (const [label, counts] of this.eventsIn) {
      if (counts.some((v) => v !== 0)) {
        eventsIn.push([label, counts.slice()]);
        counts.fill(0);
      }
    }
    const perSymbol: [string, number, number, number][] = [];
    for (const [label, c] of this.perSymbol) {
      if (c.features !== 0 || c.long !== 0 || c.short !== 0) {
        perSymbol.push([label, c.features, c.long, c.short]);
        c.features = c.long = c.short = 0;
      }
    }
    this.rollSeconds(Math.floor(Date.now() / 1000));
    const latency = new Float64Array(h.counts.length + 2);
    latency.set(h.counts);
    latency[h.counts.length] = h.sum;
    latency[h.counts.length + 1] = h.count;
    const delta: TelemetryDelta = {
      totals,
      eventsIn,
      dropped: this.dropped.slice(),
      reasonsSeen: this.reasonsSeen.slice(),
      perSymbol,
      alerts: this.alertCounts.slice(),
      perSecondEpoch: this.perSecondEpoch,
      perSecond: this.perSecond.slice(),
      latency,
    };
    this.eventsInTotal = this.eventsProcessedTotal = this.eventsDroppedTotal = this.featuresPublishedTotal = this.signalsEmittedTotal = 0;
    this.dropped.fill(0);
    this.reasonsSeen.length = 0;
    this.alertCounts.fill(0);
    this.perSecond.fill(0);
    h.counts.fill(0);
    h.sum = 0;
    h.count = 0;
    return delta;
  }

  /** Adds what an engine thread counted ({@link takeDelta}) to these counters. */
  addDelta(d: TelemetryDelta): void {
    this.eventsInTotal += d.totals[0]!;
    this.eventsProcessedTotal += d.totals[1]!;
    this.eventsDroppedTotal += d.totals[2]!;
    this.featuresPublishedTotal += d.totals[3]!;
    this.signalsEmittedTotal += d.totals[4]!;
    for (const [label, counts] of d.eventsIn) {
      const mine = this.countsOf(label);
      for (let t = 0; t < TYPES; t++) mine[t]! += counts[t]!;
    }
    for (const reason of d.reasonsSeen) {
      if (this.reasonCount(REASON_INDEX.get(reason)!) === 0) this.reasonsSeen.push(reason);
    }
    for (let i = 0; i < this.dropped.length; i++) this.dropped[i]! += d.dropped[i]!;
    for (const [label, features, long, short] of d.perSymbol) {
      const c = this.symbolCounts(label);
      c.features += features;
      c.long += long;
      c.short += short;
    }
    for (let i = 0; i < this.alertCounts.length; i++) this.alertCounts[i]! += d.alerts[i]!;
    this.rollSeconds(d.perSecondEpoch);
    for (let s = d.perSecondEpoch - 10; s <= d.perSecondEpoch; s++) {
      if (s > this.perSecondEpoch - 11) this.perSecond[s % 11]! += d.perSecond[s % 11]!;
    }
    const h = this.processingLatency;
    const n = h.counts.length;
    for (let i = 0; i < n; i++) h.counts[i]! += d.latency[i]!;
    h.sum += d.latency[n]!;
    h.count += d.latency[n + 1]!;
  }

  /** The counters of a symbol's label, giving the symbol a label of its own while there is room. */
  private symbolCounts(symbol: string): { features: number; long: number; short: number } {
    let c = this.perSymbol.get(symbol);
    if (c !== undefined) return c;
    // `other` is lower case and symbols are upper case: no symbol can take it
    const room = this.perSymbol.size - (this.perSymbol.has(OTHER_LABEL) ? 1 : 0) < this.maxSymbolLabels;
    const label = room ? symbol : OTHER_LABEL;
    c = this.perSymbol.get(label);
    if (c === undefined) {
      c = { features: 0, long: 0, short: 0 };
      this.perSymbol.set(label, c);
    }
    return c;
  }

  private countsOf(label: string): Float64Array {
    let counts = this.eventsIn.get(label);
    if (counts === undefined) {
      counts = new Float64Array(TYPES);
      this.eventsIn.set(label, counts);
    }
    return counts;
  }

  private reasonCount(r: number): number {
    let n = 0;
    for (let t = 0; t < TYPES; t++) n += this.dropped[r * TYPES + t]!;
    return n;
  }

  private rollSeconds(sec: number): void {
    if (sec <= this.perSecondEpoch) return;
    const gap = Math.min(sec - this.perSecondEpoch, 11);
    for (let i = 1; i <= gap; i++) this.perSecond[(this.perSecondEpoch + i) % 11] = 0;
    this.perSecondEpoch = sec;
  }
}
