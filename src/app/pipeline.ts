import type { MarketEvent, Rejection } from '../domain/events.js';
import { isRejection, reject } from '../domain/events.js';
import type { FeatureSnapshot, Signal } from '../domain/features.js';
import type { ForgetListener, OutputPort } from '../output/output-port.js';
import type { MarketEngine } from '../engine/market-engine.js';
import { decode } from '../decode/decode.js';
import { subjectTypeOf } from '../decode/subject-intern.js';
import type { DataQualityMetrics } from '../obs/data-quality-metrics.js';
import type { Telemetry } from '../obs/telemetry.js';
import type { Logger } from '../obs/logger.js';
import { gapAlert, latencyAlert, staleAlerts, symbolLimitAlert } from '../alerts/alert-rules.js';
import type { AlertThrottle } from '../alerts/alert-throttle.js';
import { ThrottledFeaturePublisher } from '../publish/feature-publisher.js';
import { EventQueue } from '../queue/event-queue.js';
import { Fifo } from '../queue/fifo.js';
import { AdmissionReport } from './admission-report.js';
import { ReadClock } from './read-clock.js';
import type { Ackable } from '../nats/jetstream-source.js';
import { settle } from '../nats/jetstream-source.js';

/** Cluster mode (SPEC §12): which messages this member processes and which symbols it publishes. */
export interface PartitionGate {
  /** Whether a queued message may be processed now; if not it is skipped unacknowledged (the partition's next owner gets it). */
  admits(subject: string): boolean;
  /** Whether this member may publish features and signals of `symbol` now (it owns its partition). */
  publishes(symbol: string): boolean;
  /** Why an event must be refused (its symbol is not its subject's symbol token), or null. */
  misplaced(subject: string, symbol: string): string | null;
}

export interface PipelineOptions {
  readonly queueCapacity: number;
  /** Hard bound on queued payload bytes (core mode): beyond it even trades are dropped (`overflow`). */
  readonly queueMaxBytes?: number;
  /** False when nothing will be offered to this pipeline's queue (ENGINE_THREAD=worker): its store is not made ready. */
  readonly prepareQueue?: boolean;
  /** Live signals whose `t` is older than this against the wall clock are not published. */
  readonly signalMaxAgeMs?: number;
  /** Core mode drops non-trades at 90 % fill; JetStream mode never drops. */
  readonly dropOnBackpressure: boolean;
  readonly featuresPubRateHz: number;
  readonly latencyAlertMs: number;
  readonly maxSymbols: number;
  /** Most messages processed before yielding to the event loop. */
  readonly batchSize?: number;
  /** Most milliseconds spent before yielding to the event loop. */
  readonly sliceMs?: number;
  /**
   * Processing inside the NATS callback when nothing is queued (the lowest
   * latency: no wait for the next event-loop turn), while it stays light: at
   * most `budgetMs` of inline processing per `periodMs`. Past the budget,
   * messages queue and drain in batches as without it, so a flood still meets
   * the queue's drop policy and HTTP still gets its turns. Null: always queue.
   */
  readonly inline?: InlineBudget | null;
}

/** How much processing may happen inside the NATS callback (see {@link PipelineOptions.inline}). */
export interface InlineBudget {
  readonly periodMs: number;
  readonly budgetMs: number;
}

/**
 * Distinct providers tracked for `stale` alerts and the dashboard; a later one's events are
 * processed as any other, but it is not tracked (DECISIONS 71).
 */
export const MAX_TRACKED_PROVIDERS = 1024;

/** The one warning when a provider past {@link MAX_TRACKED_PROVIDERS} first appears (either thread's pipeline). */
export function warnProviderBound(log: Pick<Logger, 'warn'>, provider: string): void {
  log.warn(
    { provider: provider.slice(0, 64), max_tracked_providers: MAX_TRACKED_PROVIDERS },
    `more than MAX_TRACKED_PROVIDERS (${MAX_TRACKED_PROVIDERS}) distinct providers: later ones are processed but get no stale alert and no dashboard row; a publisher may be putting a per-message value in "provider"`,
  );
}

/** The service's inline budget: a fifth of each 10 ms, far above a normal feed's load (SPEC §8 latency). */
export const DEFAULT_INLINE_BUDGET: InlineBudget = { periodMs: 10, budgetMs: 2 };

/**
 * The live path from a NATS callback to published output: bounded queue,
 * decode, engine, features (throttled), signals and alerts. Every message is
 * admitted through the queue (its drop policy decides); when it is the only
 * one there and the inline budget allows, the callback processes it at once,
 * otherwise processing drains the queue in batches and yields between them so
 * HTTP stays responsive under full load.
 *
 * A message taken off the queue is read in place (`queue.data` points into
 * the queue's store until the next offer), so nothing called while processing
 * may offer to this pipeline synchronously: outputs, alerts and acks only send.
 */
export class Pipeline {
  readonly queue: EventQueue;
  readonly features: ThrottledFeaturePublisher;
  /** Wall-clock ms of the last accepted event per provider (heartbeats count). */
  readonly providerLastSeen = new Map<string, number>();
  /** Accepted events of providers past {@link MAX_TRACKED_PROVIDERS}, not in {@link providerLastSeen}. */
  untrackedProviderEvents = 0;
  /** Counters and backpressure alerts of the queue's admissions; the time of the last drop. */
  readonly admissions: AdmissionReport;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];
  private readonly batchSize: number;
  private readonly sliceMs: number;
  /** Receive times of the socket read being delivered. */
  private readonly clock = new ReadClock();
  private readonly signalMaxAgeMs: number;
  /** `performance.now()` at the end of the last processed message, while draining. */
  private drainNow = 0;
  private draining = false;
  /** Cluster mode: the partition gate; null otherwise. */
  gate: PartitionGate | null = null;
  /** Told the symbols each eviction or {@link forget} removed, once they are gone (the service's `ForgetFanOut`). */
  forgotten: ForgetListener | null = null;
  private readonly inline: InlineBudget | null;
  /** Start (`performance.now()`) of the current inline budget period, and the inline time spent in it. */
  private inlinePeriodStart = Number.NEGATIVE_INFINITY;
  private inlineSpentMs = 0;
  /** Messages processed inside the NATS callback. */
  processedInline = 0;
  /** Queue positions before which events may have been lost (core-mode reconnects), oldest first. */
  private readonly coverageGaps = new Fifo<number>();

  constructor(
    private readonly engine: MarketEngine,
    private readonly telemetry: Telemetry,
    private readonly alerts: AlertThrottle,
    private readonly output: OutputPort,
    private readonly opts: PipelineOptions,
    private readonly quality: DataQualityMetrics | null = null,
    /** Called once, for the first provider past {@link MAX_TRACKED_PROVIDERS}. */
    private readonly onProviderBound: (provider: string) => void = () => undefined,
  ) {
    this.queue = new EventQueue(opts.queueCapacity, opts.dropOnBackpressure, opts.queueMaxBytes, opts.prepareQueue ?? true);
    this.admissions = new AdmissionReport(telemetry, alerts, this.queue);
    this.signalMaxAgeMs = opts.signalMaxAgeMs ?? Number.POSITIVE_INFINITY;
    this.batchSize = opts.batchSize ?? 2048;
    this.sliceMs = opts.sliceMs ?? 8;
    this.inline = opts.inline ?? null;
    // while draining, the throttle reads the clock the latency measurement just read
    this.features = new ThrottledFeaturePublisher(
      opts.featuresPubRateHz,
      (f) => this.publishFeatures(f),
      () => (this.draining ? this.drainNow : performance.now()),
    );
  }

  /** The NATS callback's whole job: timestamp, admit or drop, schedule processing. */
  offer(subject: string, data: Uint8Array, ack: Ackable | null): void {
    const clock = this.clock;
    clock.stamp();
    const subjectType = subjectTypeOf(subject);
    // nothing waits and the budget has room: processed now, in this callback, and so not copied into the queue
    const inline = this.queue.size === 0 && !this.scheduled && this.inlineAllowed();
    const admission = inline
      ? this.queue.offerInPlace(subject, data, subjectType, clock.recvMs, clock.t0, ack)
      : this.queue.offer(subject, data, subjectType, clock.recvMs, clock.t0, ack);
    if (this.admissions.report(admission, subjectType, clock.recvMs)) {
      // an overflow drop: events may be lost from here on, so coverage (SPEC §11) moves past it
      if (admission === 'overflow') this.engine.coverageLostUntil(clock.recvMs);
      return;
    }
    if (inline) this.processInline();
    else this.schedule();
  }

  /**
   * Events may have been lost (a core-mode NATS disconnect): coverage (SPEC §11) restarts at the first
   * event queued after now. It takes effect in queue order, once the messages queued before the gap are
   * processed — which may vouch only for the time before it — and never waits for the queue to empty,
   * which a sustained backlog can put off indefinitely (the engine thread's ring carries the same marker).
   */
  coverageLost(): void {
    this.coverageGaps.push(this.queue.queuedTotal);
    this.applyDueGaps(); // nothing queued: at once
  }

  /** Takes the next queued message into the queue's fields, after the coverage gaps due before it; false when empty. */
  private take(): boolean {
    this.applyDueGaps();
    return this.queue.poll();
  }

  private applyDueGaps(): void {
    for (let gap = this.coverageGaps.peek(); gap !== undefined && this.queue.takenTotal >= gap; gap = this.coverageGaps.peek()) {
      this.coverageGaps.shift();
      this.engine.coverageLost();
    }
  }

  /** Whether the inline budget of the current period has room (nothing is queued or scheduled: the caller checked). */
  private inlineAllowed(): boolean {
    const budget = this.inline;
    if (budget === null) return false;
    // the clock: the read's first callback, or the end of the last message processed in this read
    const now = Math.max(this.drainNow, this.clock.t0);
    if (now - this.inlinePeriodStart >= budget.periodMs) {
      this.inlinePeriodStart = now;
      this.inlineSpentMs = 0;
    }
    return this.inlineSpentMs < budget.budgetMs;
  }

  /** Processes the one queued message now, inside the callback that delivered it. */
  private processInline(): void {
    this.take();
    const start = Math.max(this.drainNow, this.clock.t0);
    this.drainNow = start; // the features throttle's clock while processing
    this.draining = true;
    try {
      this.handleTaken();
    } finally {
      this.draining = false;
    }
    this.inlineSpentMs += this.drainNow - start;
    this.processedInline++;
  }

  /**
   * Warm-up (SPEC §11): applies one stored message with its stream timestamp
   * as receive time. No features, no alerts, no live counters; a signal goes
   * out only when `publishSignal` (the message is above the durable's ack
   * floor, so the failed process may not have sent it).
   */
  replay(subject: string, data: Uint8Array, streamTsMs: number, publishSignal: boolean): string | null {
    const q = this.quality;
    if (q !== null) q.warmupMessagesTotal++;
    const decoded = this.decodeChecked(subject, data);
    if (isRejection(decoded)) {
      q?.countWarmupDropped(decoded.reason);
      return null;
    }
    const outcome = this.engine.ingest(decoded, streamTsMs);
    if (isRejection(outcome)) {
      q?.countWarmupDropped(outcome.reason);
      return null;
    }
    if (publishSignal && outcome.signal !== null) this.emitSignal(outcome.signal, Date.now());
    return outcome.state?.symbol ?? null;
  }

  /** Publishes the current features of these symbols (throttled), e.g. after a warm-up. */
  republish(symbols: Iterable<string>): void {
    for (const symbol of symbols) {
      const s = this.engine.symbols.get(symbol);
      if (s !== undefined) this.features.touch(s);
    }
  }

  /** Forgets symbols idle for `idleMs` of wall-clock time (SPEC §3); returns them. */
  evictIdle(nowMs: number, idleMs: number): string[] {
    const evicted = this.engine.evictIdle(nowMs - idleMs);
    for (const symbol of evicted) this.features.forget(symbol);
    if (evicted.length > 0) this.forgotten?.(evicted);
    return evicted;
  }

  /** Forgets these symbols at once (cluster mode: their partition moved away). */
  forget(symbols: Iterable<string>): void {
    const gone: string[] = [];
    for (const symbol of symbols) {
      if (this.engine.forget(symbol)) gone.push(symbol);
      this.features.forget(symbol);
    }
    if (gone.length > 0) this.forgotten?.(gone);
  }

  /**
   * ENGINE_THREAD=worker: the engine thread processes a run of messages the
   * I/O thread admitted — {@link beginRun}, {@link processAdmitted} for each,
   * {@link endRun} — through the same path as {@link drain}, without this
   * pipeline's queue.
   */
  beginRun(): void {
    this.drainNow = performance.now();
    this.draining = true;
  }

  /** One admitted message; `recvMs` and `t0` (this thread's `performance.now()` clock) as the I/O thread took them. */
  processAdmitted(subject: string, data: Uint8Array, recvMs: number, t0: number): void {
    this.process(subject, data, recvMs, t0);
  }

  endRun(): void {
    this.draining = false;
  }

  /** Resolves once the queue is empty and nothing is being processed. */
  idle(): Promise<void> {
    if (this.queue.size === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.drainNow = performance.now();
    const deadline = this.drainNow + this.sliceMs;
    this.draining = true;
    try {
      for (let n = 0; n < this.batchSize; n++) {
        if (!this.take()) break;
        this.handleTaken();
        if (this.drainNow > deadline) break;
      }
    } finally {
      this.draining = false;
    }
    this.admissions.drained();
    if (this.queue.size > 0) {
      setImmediate(() => this.drain());
      return;
    }
    this.scheduled = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Processes the message just taken off the queue and acknowledges it (JetStream: only once processed). */
  private handleTaken(): void {
    const q = this.queue;
    const ack = q.ack;
    if (this.gate !== null && !this.gate.admits(q.subject)) {
      // not processed: handed back (nak) so the partition's next owner gets it without waiting for
      // ack_wait; if this member is cut off, the server redelivers it after ack_wait anyway
      if (ack !== null) settle(ack, true);
      return;
    }
    this.process(q.subject, q.data, q.recvMs, q.t0);
    if (ack !== null) settle(ack);
  }

  /** Decode, engine, output for one message; `t0` starts its processing latency (SPEC §8). */
  private process(subject: string, data: Uint8Array, recvMs: number, t0: number): void {
    const t = this.telemetry;
    const decoded = this.decodeChecked(subject, data);
    if (isRejection(decoded)) {
      t.countIn(decoded.type, 'unknown', recvMs);
      t.countDropped(decoded.reason, decoded.type);
    } else {
      t.countIn(decoded.type, decoded.provider, recvMs);
      this.apply(decoded, recvMs);
    }
    t.eventsProcessedTotal++;
    const now = performance.now();
    this.drainNow = now;
    t.processingLatency.observe(now - t0);
  }

  /** Decodes; in cluster mode refuses an event filed under another symbol's subject (SPEC §12). */
  private decodeChecked(subject: string, data: Uint8Array): MarketEvent | Rejection {
    const decoded = decode(subject, data);
    const gate = this.gate;
    if (gate === null || isRejection(decoded) || decoded.symbol === null) return decoded;
    const why = gate.misplaced(subject, decoded.symbol);
    return why === null ? decoded : reject('invalid', decoded.type, why);
  }

  private apply(ev: MarketEvent, recvMs: number): void {
    const outcome = this.engine.ingest(ev, recvMs);
    if (isRejection(outcome)) {
      this.telemetry.countDropped(outcome.reason, outcome.type);
      if (outcome.reason === 'symbol_limit' && ev.symbol !== null) {
        this.alerts.raise(symbolLimitAlert(ev.symbol, ev.provider, this.engine.symbols.size, this.opts.maxSymbols, outcome.detail));
      }
      return;
    }
    const seen = this.providerLastSeen;
    if (seen.size < MAX_TRACKED_PROVIDERS || seen.has(ev.provider)) seen.set(ev.provider, recvMs);
    else if (this.untrackedProviderEvents++ === 0) this.onProviderBound(ev.provider);
    const s = outcome.state;
    if (s !== null) {
      this.features.touch(s);
      if (outcome.gap > 0) this.alerts.raise(gapAlert(s.symbol, ev.provider, outcome.gap));
    }
    if (outcome.signal !== null) this.emitSignal(outcome.signal, recvMs);
  }

  /** Publishes a signal unless it was evaluated on history older than SIGNAL_MAX_AGE_MS (SPEC §11). */
  private emitSignal(signal: Signal, nowMs: number): void {
    if (this.gate !== null && !this.gate.publishes(signal.symbol)) return;
    if (nowMs - signal.ts > this.signalMaxAgeMs) {
      this.quality?.countSignalSuppressed('stale');
      return;
    }
    this.telemetry.countSignal(signal.symbol, signal.direction);
    this.output.signal(signal);
  }

  private publishFeatures(f: FeatureSnapshot): void {
    if (this.gate !== null && !this.gate.publishes(f.symbol)) return; // its partition moved meanwhile
    this.telemetry.countFeaturePublish(f.symbol);
    this.output.features(f);
    this.alerts.raise(latencyAlert(f.symbol, f.latency_ms_p95, this.opts.latencyAlertMs));
  }

  /**
   * Raises `stale` for providers silent longer than `staleAfterMs`, unless backpressure is dropping
   * (`lastDropMs`: the last drop, by default this pipeline's own; the worker thread's comes from the I/O side).
   */
  checkStale(nowMs: number, staleAfterMs: number, lastDropMs = this.admissions.lastBackpressureDropMs): void {
    for (const a of staleAlerts(nowMs, this.providerLastSeen, staleAfterMs, lastDropMs)) this.alerts.raise(a);
  }


}
